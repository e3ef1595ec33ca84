"""Export the image encoder: ONNX (image in, unit embedding + penultimate features out) + parity + manifest.

The manifest's metrics are measured through the exported ONNX file and the app's own resize
(`studio.inference.image_encoder`), on held-out renders with eval-split captions, so they are the
numbers the app will actually get.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from studio.eval.retrieval import encoder_metrics
from studio.export.onnx_export import EMBEDDING_SPACE, parity, tensor_spec, write_onnx
from studio.hashing import sha256_file
from studio.inference.image_encoder import ImageEncoder as OnnxImageEncoder
from studio.inference.manifest import parse_manifest
from studio.training.image_encoder import ImageConfig, ImageEncoder


class _EmbeddingOnly(torch.nn.Module):
    """Parity is checked on the embedding, the output every caller uses."""

    def __init__(self, net: ImageEncoder) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)[0]


def export_image_encoder(
    state: dict, out: Path, embed_text, license_: str = "MIT", heldout: int = 300
) -> dict:
    """Write OUT.onnx + OUT.json from an image-encoder checkpoint state; returns the manifest."""
    cfg = ImageConfig.from_dict(json.loads(state["config"]))
    net = ImageEncoder(cfg.width, cfg.dim)
    net.load_state_dict(state["net"])
    net.eval()
    example = torch.rand(2, 3, cfg.resolution, cfg.resolution) * 2 - 1
    dynamic = {"image": {0: "N"}, "embedding": {0: "N"}, "features": {0: "N"}}
    onnx_path = write_onnx(net, (example,), out, ["image"], ["embedding", "features"], dynamic)
    max_diff = parity(_EmbeddingOnly(net), (example,), ["image"], onnx_path)
    manifest = {
        "name": out.name,
        "version": f"1.0.{state['step']}",
        "kind": "image_encoder",
        "description": "Image → text-embedding space (CNN, contrastive to caption embeddings); "
        "penultimate features for KID/FID.",
        "embedding_space": EMBEDDING_SPACE,
        "sha256": sha256_file(onnx_path),
        "license": license_,
        "resolution": cfg.resolution,
        "inputs": [
            tensor_spec("image", ["N", 3, cfg.resolution, cfg.resolution], "RGB in [-1, 1], area-resized")
        ],
        "outputs": [
            tensor_spec("embedding", ["N", cfg.dim], "unit vector in the text encoder's space"),
            tensor_spec("features", ["N", 8 * cfg.width], "penultimate pooled conv features (KID/FID space)"),
        ],
        "training": {
            "config": cfg.to_dict(),
            "data": "studio.world.scene renders (train split, bank from the config seed) with "
            f"{cfg.captions_per_scene} train-split captions each, augmented per batch",
            "seed": cfg.seed,
            "steps": state["step"],
            "images_seen": state["step"] * cfg.batch,
            "wall_time_s": round(float(state["wall_time_s"]), 1),
            "hardware": f"{platform.machine()} CPU, torch {torch.__version__}",
            "final_losses": state.get("metrics", {}),
            "reproduce": f"studio train --config configs/{cfg.name}.json",
        },
        "metrics": {},
    }
    manifest_path = out.with_suffix(".json")
    info = parse_manifest(manifest_path, manifest)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    encoder = OnnxImageEncoder(session, info)
    manifest["metrics"] = {
        "onnx_parity_max_abs_diff": max_diff,
        **encoder_metrics(encoder.embed, lambda texts: np.asarray(embed_text(texts)), n=heldout),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
