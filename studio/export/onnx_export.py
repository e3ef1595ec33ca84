"""`studio export CHECKPOINT -o exported_models/NAME`: ONNX + parity check + manifest.

The manifest records how the model was trained (config, data, seed, steps, wall time) so that
`studio train --config` reproduces it, and the parity between torch and onnxruntime.
"""

from __future__ import annotations

import json
import logging
import platform
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from studio.eval.sharpness import image_scores
from studio.export.fp16 import Fp16Error, add_fp16_twin
from studio.hashing import sha256_file
from studio.inference.manifest import EDGE_FILL_SHARE, GAIN_RANGE
from studio.inference.segmenter import confusion, scores, to_input
from studio.training.config import PAD_MODES, TrainConfig
from studio.training.data import ATTRIBUTE_GROUPS
from studio.training.loop import load_checkpoint
from studio.training.nets import TEXT_DIM, Upscaler
from studio.training.oasis_run import build_generator
from studio.training.segmenter import SegmenterNet
from studio.world.classes import LABEL_CLASSES, NUM_CLASSES, class_entries
from studio.world.scene import render_scenes

log = logging.getLogger(__name__)
OPSET = 17
EMBEDDING_SPACE = "minilm-l6-v2"
SEGMENTER_HELDOUT_SEED = 30_000  # far from every training stream's seeds
UPSCALER_HELDOUT_SEED = 31_000
UPSCALER_HELDOUT = 64  # renders at the output size are slow: 64 keep an export under a minute
OUTPUT_NAMES = {"generator": "image", "upscaler": "upscaled", "segmenter": "logits"}
EXAMPLE_PROMPTS = [
    "a misty lake under snowy mountains at dawn",
    "sunset over the sea with pink clouds",
    "a pine forest in winter at night",
    "a stormy evening over rocky hills",
    "a summer meadow with flowers at noon",
    "desert dunes in the afternoon",
]


def tensor_spec(name: str, shape: list, meaning: str, dtype: str = "float32") -> dict:
    return {"name": name, "shape": shape, "dtype": dtype, "meaning": meaning}


def build_model(state: dict) -> tuple[torch.nn.Module, TrainConfig, tuple[torch.Tensor, ...], list[str]]:
    """The EMA network of a checkpoint and dummy inputs to trace it with."""
    cfg = TrainConfig.from_dict(state["config"])
    if cfg.kind == "generator":
        net = build_generator(cfg)
        net.load_state_dict(state["G_ema"])
        r = cfg.resolution
        labels = torch.zeros(2, NUM_CLASSES, r, r)
        labels[:, 0] = 1
        inputs = [
            torch.randn(2, cfg.z_dim),
            torch.nn.functional.normalize(torch.randn(2, TEXT_DIM), dim=1),
            labels,
        ]
        names = ["z", "text", "labels"]
        if cfg.attributes:
            inputs.append(torch.zeros(2, net.attr_dim))
            names.append("attributes")
        if cfg.noise:
            inputs.append(torch.randn(2, 1, r, r))
            names.append("noise")
        return net.eval(), cfg, tuple(inputs), names
    if cfg.kind == "segmenter":
        seg = SegmenterNet.from_config(cfg)
        seg.load_state_dict(state["S"])
        return seg.eval(), cfg, (torch.rand(2, 3, cfg.resolution, cfg.resolution) * 2 - 1,), ["image"]
    net = Upscaler(cfg.scale)
    net.load_state_dict(state["U_ema"])
    return net.eval(), cfg, (torch.rand(2, 3, cfg.resolution, cfg.resolution) * 2 - 1,), ["image"]


def export_checkpoint(
    checkpoint: Path,
    out: Path,
    metrics: dict | None = None,
    license_: str = "MIT",
    heldout: int = 256,
    consistent: bool = False,
    latent_temperature: float | None = None,
    edge_fill: int | None = None,
    upscaler: str | None = None,
    pad_mode: str | None = None,
    pad_from: int | None = None,
) -> dict:
    """Write OUT.onnx and OUT.json from a training checkpoint; returns the manifest.

    A segmenter is also scored on `heldout` eval-split renders it never saw. `consistent`: a
    generator's refinement levels are exported back-projected onto its trunk's picture (config
    `consistent_refine`, recorded in the manifest's config) though its run trained without.
    `latent_temperature`: a generator's manifest asks the app to feed z times it (an export-only
    setting chosen with studio eval after the run, also recorded in the manifest's config);
    `edge_fill`, `upscaler`, `pad_mode` and `pad_from` likewise (border pixels mirrored over, the
    upscaler it names, the convolutions' padding: the weights are the same in every mode)."""
    state = load_checkpoint(checkpoint)
    cfg = state.get("config") or {}
    generator = cfg.get("kind") == "generator"
    overrides: dict = {}  # export-time settings, recorded in the manifest's config
    if latent_temperature is not None:
        low, high = GAIN_RANGE
        if not generator or not low <= latent_temperature <= high:
            raise ValueError(f"--latent-temperature needs a generator and a value from {low:g} to {high:g}")
        overrides["latent_temperature"] = float(latent_temperature)
    if edge_fill is not None:
        if not generator or not 0 <= edge_fill <= cfg.get("resolution", 0) // EDGE_FILL_SHARE:
            raise ValueError(
                f"--edge-fill needs a generator and at most its resolution / {EDGE_FILL_SHARE} pixels"
            )
        overrides["edge_fill"] = edge_fill
    if upscaler is not None:
        if not generator:
            raise ValueError("--upscaler names a generator's upscaler")
        overrides["upscaler"] = upscaler
    if pad_mode is not None or pad_from is not None:
        if not generator or pad_mode not in (None, *PAD_MODES) or (pad_from is not None and pad_from < 0):
            raise ValueError(f"--pad-mode ({', '.join(PAD_MODES)}) and --pad-from (px >= 0) need a generator")
        overrides["pad_mode"] = pad_mode or cfg.get("pad_mode", "zeros")
        overrides["pad_from"] = cfg.get("pad_from", 0) if pad_from is None else pad_from
    if consistent:
        if not generator or not 0 < cfg.get("trunk", 0) < cfg.get("resolution", 0):
            raise ValueError("--consistent needs a generator whose trunk ends below its resolution")
        overrides["consistent_refine"] = True
    if overrides:
        state["config"] = {**cfg, **overrides}
    if isinstance(state.get("config"), dict) and state["config"].get("kind") == "captioner":
        from studio.export.captioner_export import export_captioner  # two graphs and a vocabulary

        return export_captioner(state, out, license_=license_, heldout=heldout)
    net, cfg, inputs, names = build_model(state)
    output = OUTPUT_NAMES[cfg.kind]  # ONNX names must differ from inputs
    onnx_path = write_onnx(net, inputs, out, names, [output], {n: {0: "N"} for n in [*names, output]})
    max_diff = parity(net, inputs, names, onnx_path)
    if cfg.kind == "segmenter":
        metrics = {
            "heldout_renders": segmenter_heldout_scores(onnx_path, cfg.resolution, heldout),
            **(metrics or {}),
        }
    if cfg.kind == "upscaler":
        metrics = {
            "heldout_renders": upscaler_heldout_scores(onnx_path, cfg.resolution, cfg.scale),
            **(metrics or {}),
        }
    manifest = make_manifest(out.name, cfg, state, onnx_path, max_diff, metrics or {}, license_)
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("exported %s (parity max abs diff %.2e)", onnx_path, max_diff)
    if cfg.kind in ("generator", "upscaler"):  # the heavy ones: an fp16 twin for GPUs
        try:
            manifest["fp16"] = add_fp16_twin(out.with_suffix(".json"))
        except Fp16Error as exc:
            log.warning("no fp16 twin: %s", exc)
    return manifest


def write_onnx(
    net: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...],
    out: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> Path:
    """OUT.onnx traced from `net` (TorchScript exporter, our opset), self-contained; returns its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx_path = out.with_suffix(".onnx")
    torch.onnx.export(
        net,
        inputs,
        str(onnx_path),
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
        opset_version=OPSET,
        dynamo=False,
        # keep every initializer under its state_dict name (a folded slice of a parameter would get
        # a generated name and `--init` could not find it); onnxruntime folds constants itself
        do_constant_folding=False,
    )
    return onnx_path


def parity(net: torch.nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str], path: Path) -> float:
    """Max abs difference between torch eager and onnxruntime CPU on the same inputs."""
    with torch.no_grad():
        expected = net(*inputs).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})[0]
    diff = float(np.abs(expected - got).max())
    if diff > 1e-3:
        raise RuntimeError(f"ONNX parity check failed: max abs diff {diff:.3g} > 1e-3")
    return diff


def segmenter_heldout_scores(onnx_path: Path, resolution: int, n: int) -> dict:
    """Pixel accuracy and IoU through onnxruntime on held-out renders, clean and blurred like a
    generator output (downscaled ×2 and back), so the manifest states what the shipped file does."""
    from PIL import Image

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    scenes = render_scenes(n, seed=SEGMENTER_HELDOUT_SEED, size=resolution, split="eval")
    half = max(1, resolution // 2)
    blurred = np.stack(
        [
            np.asarray(
                Image.fromarray(im)
                .resize((half, half), Image.Resampling.BILINEAR)
                .resize((resolution, resolution), Image.Resampling.BILINEAR)
            )
            for im in scenes.images
        ]
    )
    names = [c.name for c in LABEL_CLASSES]
    result: dict = {"n": n, "seed": SEGMENTER_HELDOUT_SEED, "split": "eval"}
    for key, images in (("clean", scenes.images), ("blurred", blurred)):
        predicted = np.concatenate(
            [
                session.run(["logits"], {"image": to_input(list(images[i : i + 64]), resolution)})[0].argmax(
                    1
                )
                for i in range(0, n, 64)
            ]
        )
        result[key] = scores(confusion(predicted, scenes.labels, NUM_CLASSES), names)
    return result


def upscaler_heldout_scores(onnx_path: Path, resolution: int, scale: int, n: int = UPSCALER_HELDOUT) -> dict:
    """PSNR and sharpness through onnxruntime on held-out renders area-downscaled as in training,
    next to bicubic, so the manifest states whether the upscaler adds detail and at what cost."""
    from PIL import Image

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    size = resolution * scale
    scenes = render_scenes(n, seed=UPSCALER_HELDOUT_SEED, size=size, split="eval")
    small = [
        Image.fromarray(im).resize((resolution, resolution), Image.Resampling.BOX) for im in scenes.images
    ]
    bicubic = np.stack([np.asarray(im.resize((size, size), Image.Resampling.BICUBIC)) for im in small])
    x = np.stack([np.asarray(im) for im in small]).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1
    out = np.concatenate([session.run(["upscaled"], {"image": x[i : i + 16]})[0] for i in range(0, n, 16)])
    model = np.round((out.transpose(0, 2, 3, 1) + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return {
        "n": n,
        "seed": UPSCALER_HELDOUT_SEED,
        "split": "eval",
        "input": f"{size} px render, area-downscaled to {resolution} px",
        "bicubic": image_scores(bicubic, scenes.images, scale),
        "model": image_scores(model, scenes.images, scale),
    }


def _patch(cfg: TrainConfig, state: dict) -> int:
    """The version's last number: the steps trained. A grown model carries its trunk's, so a newer
    trunk makes a newer model rather than a tie with the last grown one; a refinement level trained
    on a frozen trunk adds its own steps to the trunk's (it is that trunk, trained further)."""
    own = int(state["step"])
    if cfg.init and (own == 0 or cfg.freeze_trunk):
        try:
            trunk = json.loads(Path(cfg.init).with_suffix(".json").read_text())
            return int(str(trunk["version"]).rsplit(".", 1)[-1]) + own
        except (OSError, ValueError, KeyError, TypeError):
            return own
    return own


def make_manifest(
    name: str, cfg: TrainConfig, state: dict, onnx_path: Path, max_diff: float, metrics: dict, license_: str
) -> dict:
    training = {
        "config": cfg.to_dict(),
        "data": cfg.data or "studio.world procedural landscapes (streamed, seed in config)",
        "seed": cfg.seed,
        "steps": state["step"],
        "images_seen": state["seen"],
        "wall_time_s": round(state["wall_s"], 1),
        "hardware": f"{platform.machine()} CPU, torch {torch.__version__}",
        "final_losses": state.get("metrics", {}),
        "reproduce": f"studio train --config configs/{cfg.name}.json",
    }
    if cfg.init:  # a fine-tune: its steps continue another model's, named by hash
        init = Path(cfg.init)
        training["init"] = {"onnx": cfg.init, "sha256": sha256_file(init) if init.is_file() else None}
    common = {
        "name": name,
        # major 2: the rebuilt generator (OASIS D, attributes, noise); minor 1: fine-tuned from init
        "version": f"{2 if cfg.disc == 'oasis' else 1}.{1 if cfg.init else 0}.{_patch(cfg, state)}",
        "kind": cfg.kind,
        "embedding_space": EMBEDDING_SPACE,
        "sha256": sha256_file(onnx_path),
        "license": license_,
        "training": training,
        "metrics": {"onnx_parity_max_abs_diff": max_diff, **metrics},
    }
    r = cfg.resolution
    label_classes = class_entries()
    if cfg.kind == "segmenter":
        return {k: v for k, v in common.items() if k != "embedding_space"} | {
            "description": "Image → label map (small U-Net): sketches from pictures; sketch fidelity.",
            "resolution": r,
            "label_classes": label_classes,
            "inputs": [tensor_spec("image", ["N", 3, r, r], "RGB image in [-1, 1], resized to resolution")],
            "outputs": [
                tensor_spec(
                    "logits", ["N", NUM_CLASSES, r, r], "class scores; argmax over axis 1 = label map"
                )
            ],
        }
    if cfg.kind == "upscaler":
        return common | {
            "description": f"×{cfg.scale} super-resolution for generator outputs "
            + ("(SRGAN-style: L1 + Sobel + PatchGAN hinge)." if cfg.adv_weight > 0 else "(SRResNet-style)."),
            "resolution": r,
            "scale": cfg.scale,
            "inputs": [tensor_spec("image", ["N", 3, r, r], "image in [-1, 1]")],
            "outputs": [tensor_spec("upscaled", ["N", 3, r * cfg.scale, r * cfg.scale], "image in [-1, 1]")],
        }
    return common | {
        "description": "Text + sketch conditioned landscape GAN (DF-GAN fusion, SPADE labels, cVAE prior"
        + (
            ", OASIS segmentation discriminator, scene attributes, per-pixel noise)."
            if cfg.disc == "oasis"
            else ")."
        ),
        "resolution": r,
        "z_dim": cfg.z_dim,
        **({"upscaler": cfg.upscaler} if cfg.upscaler else {}),
        "label_classes": label_classes,
        "example_prompts": EXAMPLE_PROMPTS,
        "concepts": _concepts(),
        "inputs": [
            tensor_spec("z", ["N", cfg.z_dim], "standard-normal latent; the seed fixes the composition"),
            tensor_spec("text", ["N", TEXT_DIM], "unit text/sound embedding (minilm-l6-v2 space)"),
            tensor_spec(
                "labels", ["N", NUM_CLASSES, r, r], "one-hot label map; class 0 everywhere = text only"
            ),
            *_generator_extra_inputs(cfg),
        ],
        "outputs": [tensor_spec("image", ["N", 3, r, r], "image in [-1, 1]")],
        **({"attribute_groups": {k: list(v) for k, v in ATTRIBUTE_GROUPS.items()}} if cfg.attributes else {}),
        **({"attribute_wording": True} if cfg.attributes and cfg.attribute_wording else {}),
        **({"attribute_gain": cfg.attribute_gain} if cfg.attributes and cfg.attribute_gain != 1.0 else {}),
        **({"latent_temperature": cfg.latent_temperature} if cfg.latent_temperature != 1.0 else {}),
        **({"edge_fill": cfg.edge_fill} if cfg.edge_fill else {}),
    }


def _generator_extra_inputs(cfg: TrainConfig) -> list[dict]:
    r, specs = cfg.resolution, []
    if cfg.attributes:
        width = sum(len(v) for v in ATTRIBUTE_GROUPS.values())
        specs.append(
            tensor_spec(
                "attributes",
                ["N", width],
                "per attribute_groups group (in order), a probability per value; all zeros = unknown",
            )
        )
    if cfg.noise:
        specs.append(tensor_spec("noise", ["N", 1, r, r], "standard-normal per-pixel noise, from the seed"))
    return specs


def _concepts() -> list[str]:
    from studio.world.captions import FEATURES, SEASONS, TIMES, WEATHERS

    return [*TIMES, *WEATHERS, *SEASONS, *FEATURES]
