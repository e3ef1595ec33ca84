"""The layout prior: a bank of procedural-world label maps, found by what their captions mean.

A text-only prompt leaves the generator to invent the whole scene structure, which it does poorly
(blurry bands: KID 2.3 vs 0.9 with a label map, see the generator's eval). With this model the
app first *imagines a layout* for the prompt — the label map of a world scene whose captions are
closest to the prompt in the shared text space, picked among the close ones by the seed — and
renders text + layout; the artist sees that layout on the Paint tab and can repaint it.

Shipped as ONNX like every model (hash-checked, run by the engine): input `text` [B, D] (the
prompt's normalised embedding), outputs `scores` [B, M] (cosine to each bank scene) and `layouts`
[M, R, R] (class indices). Building needs no torch: `studio train --config
configs/layout_prior64.json --out exported_models` renders the scenes, embeds their captions with
the installed text encoder and writes NAME.onnx + NAME.json.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio.hashing import sha256_file
from studio.world.classes import class_entries
from studio.world.scene import render_scenes

OPSET = 17


@dataclass
class LayoutConfig:
    """How a layout bank is built (recorded in its manifest so the build is reproducible)."""

    name: str = "layout_prior64"
    generator: str = "landscape64"  # embedding space, resolution and classes come from it
    scenes: int = 1024
    captions_per_scene: int = 3  # averaged: one caption mentions only some of what a scene shows
    seed: int = 40_000  # far from the training (0+), eval (20,000+) and segmenter (30,000+) seeds
    margin: float = 0.08  # candidates: scenes within this cosine of the best match
    max_candidates: int = 24
    eval_queries: int = 256
    kind: str = "layout_prior"

    @classmethod
    def from_dict(cls, data: dict) -> LayoutConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown layout prior settings {sorted(unknown)}")
        cfg = cls(**data)
        if cfg.kind != "layout_prior" or cfg.scenes < 8 or cfg.captions_per_scene < 1:
            raise ValueError(
                "a layout prior needs kind 'layout_prior', scenes ≥ 8 and captions_per_scene ≥ 1"
            )
        if not 0.0 < cfg.margin < 1.0 or cfg.max_candidates < 1:
            raise ValueError("margin must be in (0, 1) and max_candidates ≥ 1")
        return cfg


def bank_embeddings(captions: list[list[str]], embed) -> np.ndarray:
    """Mean of each scene's caption embeddings, renormalised: [M, D] float32."""
    flat = [c for group in captions for c in group]
    vectors = np.asarray(embed(flat), dtype=np.float32).reshape(len(captions), len(captions[0]), -1)
    mean = vectors.mean(axis=1)
    return (mean / np.linalg.norm(mean, axis=1, keepdims=True).clip(1e-8)).astype(np.float32)


def scene_captions(cfg: LayoutConfig, resolution: int):
    """The bank's scenes and `captions_per_scene` train-split captions of each (same attributes)."""
    from studio.world.captions import make_caption

    scenes = render_scenes(cfg.scenes, seed=cfg.seed, size=resolution, split="train")
    captions = [
        [
            make_caption(attrs, np.random.default_rng([cfg.seed, i, k]), "train")
            for k in range(cfg.captions_per_scene)
        ]
        for i, attrs in enumerate(scenes.attributes)
    ]
    return scenes, captions


def retrieval_metrics(
    cfg: LayoutConfig, resolution: int, bank_attrs: list[dict], bank: np.ndarray, embed
) -> dict:
    """How well held-out phrasings find a layout with the scene features they name.

    For eval-split captions (phrasings never used to build the bank), the mean Jaccard overlap
    between the query scene's features and the features of the layout picked, against picking a
    bank scene at random (its chance level)."""
    queries = render_scenes(cfg.eval_queries, seed=cfg.seed + 1, size=16, split="eval")
    scores = np.asarray(embed(queries.captions), dtype=np.float32) @ bank.T
    picked = scores.argmax(axis=1)

    def jaccard(a: dict, b: dict) -> float:
        x, y = set(a["features"]), set(b["features"])
        return len(x & y) / max(1, len(x | y))

    found = [jaccard(q, bank_attrs[j]) for q, j in zip(queries.attributes, picked, strict=True)]
    rng = np.random.default_rng(cfg.seed)
    chance = [jaccard(q, bank_attrs[int(rng.integers(len(bank_attrs)))]) for q in queries.attributes]
    return {
        "heldout_feature_jaccard_top1": round(float(np.mean(found)), 3),
        "random_layout_feature_jaccard": round(float(np.mean(chance)), 3),
        "queries": cfg.eval_queries,
    }


def layout_graph(bank: np.ndarray, layouts: np.ndarray):
    """ONNX: scores = text @ bankᵀ; layouts = the label maps (an initializer passed through)."""
    from onnx import TensorProto, helper, numpy_helper

    m, dim = bank.shape
    res = layouts.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["text", "bank_t"], ["scores"]),
            helper.make_node("Identity", ["bank_layouts"], ["layouts"]),
        ],
        "layout_prior",
        [helper.make_tensor_value_info("text", TensorProto.FLOAT, ["N", dim])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", m]),
            helper.make_tensor_value_info("layouts", TensorProto.UINT8, [m, res, res]),
        ],
        [
            numpy_helper.from_array(np.ascontiguousarray(bank.T), "bank_t"),
            numpy_helper.from_array(np.ascontiguousarray(layouts, dtype=np.uint8), "bank_layouts"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="synesthesia"
    )
    model.ir_version = 8  # readable by every onnxruntime ≥ 1.14
    return model


def build_layout_prior(cfg: LayoutConfig, out_dir: Path, pipe) -> dict:
    """Render, embed, write OUT_DIR/NAME.onnx and NAME.json; returns the manifest."""
    import onnx

    start = time.time()
    info = pipe.registry.get(cfg.generator)
    if info.kind != "generator" or not info.resolution:
        raise ValueError(f"{cfg.generator} is not a generator with a resolution")

    def embed(texts: list[str]) -> np.ndarray:
        return pipe.encode_text(info, texts)

    scenes, captions = scene_captions(cfg, info.resolution)
    bank = bank_embeddings(captions, embed)
    metrics = retrieval_metrics(cfg, info.resolution, scenes.attributes, bank, embed)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{cfg.name}.onnx"
    onnx.save(layout_graph(bank, scenes.labels), str(path))
    text_encoder = pipe.registry.text_encoder_for(info)
    manifest = {
        "name": cfg.name,
        "version": f"1.0.{cfg.scenes}",
        "kind": "layout_prior",
        "embedding_space": info.embedding_space,
        "resolution": info.resolution,
        "sha256": sha256_file(path),
        "license": "MIT (procedural world scenes rendered by studio.world)",
        "description": (
            f"{cfg.scenes} label maps of procedural-world scenes with their caption embeddings; the app "
            "picks a layout for text-only prompts among the scenes whose captions mean the same."
        ),
        "pick": {"margin": cfg.margin, "max_candidates": cfg.max_candidates},
        "label_classes": class_entries(),
        "inputs": [
            {
                "name": "text",
                "shape": ["N", int(bank.shape[1])],
                "dtype": "float32",
                "meaning": "the prompt's normalised text embedding",
            }
        ],
        "outputs": [
            {
                "name": "scores",
                "shape": ["N", cfg.scenes],
                "dtype": "float32",
                "meaning": "cosine between the prompt and each scene's captions",
            },
            {
                "name": "layouts",
                "shape": [cfg.scenes, info.resolution, info.resolution],
                "dtype": "uint8",
                "meaning": "each scene's label map (class indices)",
            },
        ],
        "training": {
            "config": asdict(cfg),
            "data": f"studio.world render_scenes(n={cfg.scenes}, seed={cfg.seed}, size={info.resolution}, "
            f"split='train'), {cfg.captions_per_scene} train-split captions per scene",
            "text_encoder": f"{text_encoder.name} {text_encoder.version}",
            "seed": cfg.seed,
            "steps": 0,
            "wall_time_s": round(time.time() - start, 1),
            "hardware": platform.machine(),
            "reproduce": f"studio train --config configs/{cfg.name}.json --out exported_models",
        },
        "metrics": metrics,
    }
    (out_dir / f"{cfg.name}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
