"""Export a translator checkpoint: one ONNX graph with both directions, a parity check, a manifest.

`NAME.onnx` takes `image` [N,3,R,R] in [-1, 1] (and `style` [N,S] when the run had a style code)
and gives one output per direction, named `to_<domain>`: `day_night.onnx` → `to_night` (day →
night) and `to_day` (night → day). onnxruntime computes every output of a run, so a call costs
both generators (about 2 × 0.5 GMAC a picture at ngf 16, 128 px: tens of milliseconds).
"""

from __future__ import annotations

import json
import logging
import platform
from pathlib import Path

import torch

from studio.export.onnx_export import tensor_spec, write_onnx
from studio.hashing import sha256_file
from studio.training.translator import KIND, TranslateConfig, build_generators
from studio.training.translator_nets import BothDirections

log = logging.getLogger(__name__)
PARITY_LIMIT = 1e-3


def _recipe_version(cfg) -> str:
    """1.1 for translators trained with the layout term (a newer recipe: a shorter run of it still
    outranks a longer plain one when the app picks the newest translator for a direction)."""
    return "1.1" if cfg.seg_weight > 0 else "1.0"


def output_name(domain: str) -> str:
    return f"to_{domain}"


def build_exported(state: dict) -> tuple[BothDirections, TranslateConfig]:
    """The EMA generators of a checkpoint, joined into the exported graph."""
    if state.get("kind") != KIND:
        raise ValueError("not a translator checkpoint")
    cfg = TranslateConfig.from_dict(state["config"])
    a_to_b, b_to_a = build_generators(cfg)
    a_to_b.load_state_dict(state["G_ab_ema"])
    b_to_a.load_state_dict(state["G_ba_ema"])
    return BothDirections(a_to_b, b_to_a).eval(), cfg


def export_translator(state: dict, out: Path, license_: str = "MIT", checkpoint: Path | None = None) -> dict:
    """Write OUT.onnx and OUT.json; returns the manifest."""
    import numpy as np
    import onnxruntime as ort

    net, cfg = build_exported(state)
    r, s = cfg.resolution, cfg.style_dim
    gen = torch.Generator().manual_seed(0)
    inputs: tuple[torch.Tensor, ...] = (torch.rand(2, 3, r, r, generator=gen) * 2 - 1,)
    names = ["image"]
    if s:
        inputs += (torch.randn(2, s, generator=gen),)
        names.append("style")
    outputs = [output_name(cfg.domain_b), output_name(cfg.domain_a)]
    onnx_path = write_onnx(net, inputs, out, names, outputs, {n: {0: "N"} for n in [*names, *outputs]})
    with torch.no_grad():
        expected = [t.numpy() for t in net(*inputs)]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(outputs, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
    max_diff = max(float(np.abs(e - g).max()) for e, g in zip(expected, got, strict=True))
    if max_diff > PARITY_LIMIT:
        raise RuntimeError(f"ONNX parity check failed: max abs diff {max_diff:.3g} > {PARITY_LIMIT}")
    manifest = make_manifest(out.name, cfg, state, onnx_path, max_diff, license_)
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("exported %s (parity max abs diff %.2e)", onnx_path, max_diff)
    return manifest


def make_manifest(
    name: str, cfg: TranslateConfig, state: dict, onnx_path: Path, max_diff: float, license_: str
) -> dict:
    r, s = cfg.resolution, cfg.style_dim
    a, b = cfg.domain_a, cfg.domain_b

    def data(domain: str, folder: str | None) -> str:
        if folder:
            return f"folder {folder}"
        return f"studio.world domain {domain!r}: {cfg.bank} renders at {r} px (seed {cfg.seed})"

    wall = float(state["wall_s"])
    training = {
        "config": cfg.to_dict(),
        "data": {a: data(a, cfg.data_a), b: data(b, cfg.data_b), "paired": False},
        "seed": cfg.seed,
        "steps": state["step"],
        "images_seen": state["seen"],
        "wall_time_s": round(wall, 1),
        "cpu_hours": round(wall * cfg.threads / 3600, 3),
        "hardware": f"{platform.machine()} CPU ({cfg.threads} threads), torch {torch.__version__}",
        "final_losses": state.get("metrics", {}),
        "reproduce": f"studio train --config configs/translate_{cfg.name}.json"
        + (f" --data-a {cfg.data_a}" if cfg.data_a else "")
        + (f" --data-b {cfg.data_b}" if cfg.data_b else ""),
    }
    style = " with a style code (seeded: one picture, several results)" if s else ""
    inputs = [
        tensor_spec("image", ["N", 3, r, r], "picture in [-1, 1], centre-cropped and resized to resolution")
    ]
    if s:
        inputs.append(
            tensor_spec("style", ["N", s], "standard-normal style vector, from the seed; zeros = canonical")
        )
    return {
        "name": name,
        "version": f"{_recipe_version(cfg)}.{state['step']}",
        "kind": "translator",
        "description": f"Unpaired picture translation {a} ↔ {b} (CycleGAN-style ResNet generators{style}).",
        "sha256": sha256_file(onnx_path),
        "license": license_,
        "resolution": r,
        "style_dim": s,
        "crop": "center",
        "domains": [a, b],
        "directions": [
            {"from": a, "to": b, "output": output_name(b)},
            {"from": b, "to": a, "output": output_name(a)},
        ],
        **({"upscaler": cfg.upscaler} if cfg.upscaler else {}),
        "inputs": inputs,
        "outputs": [
            tensor_spec(output_name(b), ["N", 3, r, r], f"the picture translated {a} → {b}, in [-1, 1]"),
            tensor_spec(output_name(a), ["N", 3, r, r], f"the picture translated {b} → {a}, in [-1, 1]"),
        ],
        "training": training,
        "metrics": {"onnx_parity_max_abs_diff": max_diff},
    }
