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

from studio.hashing import sha256_file
from studio.training.config import TrainConfig
from studio.training.loop import load_checkpoint
from studio.training.nets import TEXT_DIM, Generator, Upscaler
from studio.world.classes import LABEL_CLASSES, NUM_CLASSES

log = logging.getLogger(__name__)
OPSET = 17
EMBEDDING_SPACE = "minilm-l6-v2"
EXAMPLE_PROMPTS = [
    "a misty lake under snowy mountains at dawn",
    "sunset over the sea with pink clouds",
    "a pine forest in winter at night",
    "a stormy evening over rocky hills",
    "a summer meadow with flowers at noon",
    "desert dunes in the afternoon",
]


def _io(name: str, shape: list, meaning: str, dtype: str = "float32") -> dict:
    return {"name": name, "shape": shape, "dtype": dtype, "meaning": meaning}


def build_model(state: dict) -> tuple[torch.nn.Module, TrainConfig, tuple[torch.Tensor, ...], list[str]]:
    """The EMA network of a checkpoint and dummy inputs to trace it with."""
    cfg = TrainConfig.from_dict(state["config"])
    if cfg.kind == "generator":
        net = Generator(cfg.z_dim, cfg.ngf, NUM_CLASSES, cfg.resolution)
        net.load_state_dict(state["G_ema"])
        r = cfg.resolution
        labels = torch.zeros(2, NUM_CLASSES, r, r)
        labels[:, 0] = 1
        inputs = (
            torch.randn(2, cfg.z_dim),
            torch.nn.functional.normalize(torch.randn(2, TEXT_DIM), dim=1),
            labels,
        )
        return net.eval(), cfg, inputs, ["z", "text", "labels"]
    net = Upscaler(cfg.scale)
    net.load_state_dict(state["U_ema"])
    return net.eval(), cfg, (torch.rand(2, 3, cfg.resolution, cfg.resolution) * 2 - 1,), ["image"]


def export_checkpoint(
    checkpoint: Path, out: Path, metrics: dict | None = None, license_: str = "MIT"
) -> dict:
    """Write OUT.onnx and OUT.json from a training checkpoint; returns the manifest."""
    state = load_checkpoint(checkpoint)
    net, cfg, inputs, names = build_model(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx_path = out.with_suffix(".onnx")
    output = "image" if cfg.kind == "generator" else "upscaled"  # ONNX names must differ from inputs
    dynamic = {n: {0: "N"} for n in [*names, output]}
    torch.onnx.export(
        net,
        inputs,
        str(onnx_path),
        input_names=names,
        output_names=[output],
        dynamic_axes=dynamic,
        opset_version=OPSET,
        dynamo=False,
    )
    max_diff = parity(net, inputs, names, onnx_path)
    manifest = make_manifest(out.name, cfg, state, onnx_path, max_diff, metrics or {}, license_)
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("exported %s (parity max abs diff %.2e)", onnx_path, max_diff)
    return manifest


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
    common = {
        "name": name,
        "version": f"1.0.{state['step']}",
        "kind": cfg.kind,
        "embedding_space": EMBEDDING_SPACE,
        "sha256": sha256_file(onnx_path),
        "license": license_,
        "training": training,
        "metrics": {"onnx_parity_max_abs_diff": max_diff, **metrics},
    }
    r = cfg.resolution
    if cfg.kind == "upscaler":
        return common | {
            "description": f"×{cfg.scale} super-resolution for generator outputs (SRResNet-style).",
            "resolution": r,
            "scale": cfg.scale,
            "inputs": [_io("image", ["N", 3, r, r], "image in [-1, 1]")],
            "outputs": [_io("upscaled", ["N", 3, r * cfg.scale, r * cfg.scale], "image in [-1, 1]")],
        }
    return common | {
        "description": "Text + sketch conditioned landscape GAN (DF-GAN fusion, SPADE labels, cVAE prior).",
        "resolution": r,
        "z_dim": cfg.z_dim,
        "upscaler": "landscape_sr",
        "label_classes": [
            {"index": c.index, "name": c.name, "display": c.display, "color": list(c.color)}
            for c in LABEL_CLASSES
        ],
        "example_prompts": EXAMPLE_PROMPTS,
        "concepts": _concepts(),
        "inputs": [
            _io("z", ["N", cfg.z_dim], "standard-normal latent; the seed fixes the composition"),
            _io("text", ["N", TEXT_DIM], "unit text/sound embedding (minilm-l6-v2 space)"),
            _io("labels", ["N", NUM_CLASSES, r, r], "one-hot label map; class 0 everywhere = text only"),
        ],
        "outputs": [_io("image", ["N", 3, r, r], "image in [-1, 1]")],
    }


def _concepts() -> list[str]:
    from studio.world.captions import FEATURES, SEASONS, TIMES, WEATHERS

    return [*TIMES, *WEATHERS, *SEASONS, *FEATURES]
