"""The segmenter: trains and exports for real, loads through the registry, segments renders,
refuses bad input clearly, and gives `studio eval` its sketch-fidelity numbers."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from studio.eval.run import evaluate, format_table  # noqa: E402
from studio.export.onnx_export import export_checkpoint  # noqa: E402
from studio.hashing import sha256_file  # noqa: E402
from studio.inference.manifest import ModelError, parse_manifest  # noqa: E402
from studio.inference.pipeline import Pipeline  # noqa: E402
from studio.inference.registry import ModelRegistry, load_model  # noqa: E402
from studio.inference.segmenter import (  # noqa: E402
    Segmenter,
    SegmenterError,
    class_map_to_png,
    confusion,
    scores,
)
from studio.paths import REPO_ROOT  # noqa: E402
from studio.training.config import TrainConfig  # noqa: E402
from studio.training.loop import load_checkpoint, train  # noqa: E402
from studio.world.classes import LABEL_CLASSES, NUM_CLASSES  # noqa: E402
from studio.world.scene import render_scenes  # noqa: E402

TINY = dict(
    kind="segmenter",
    resolution=16,
    ngf=4,
    batch=4,
    ring_capacity=64,
    snapshot_every=2,
    sample_every=2,
    threads=1,
)
SHIPPED = REPO_ROOT / "exported_models" / "segmenter64"
# Measured on these 64 renders at each segmenter's own size: segmenter64 1.0.1200 pixel accuracy
# 0.92, mIoU 0.80; segmenter128 1.0.2400 0.96 / 0.89. Floors leave room for another CPU's rounding.
SHIPPED_FLOORS = {"segmenter64": (0.80, 0.65), "segmenter128": (0.90, 0.80)}


@pytest.fixture(scope="module")
def tiny_segmenter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real segmenter trained 3 steps (2, then resumed to 3) and exported: returns its manifest."""
    root = tmp_path_factory.mktemp("seg")
    cfg = TrainConfig(name="tiny-seg", steps=2, **TINY)
    first = train(cfg, root / "run", embed=None)
    assert first["seen"] == 8 and np.isfinite(first["ce"])
    assert (root / "run" / "samples-000002.png").exists()
    cfg.steps = 3
    train(cfg, root / "run", embed=None, resume=True)
    assert load_checkpoint(root / "run" / "checkpoint.pt")["step"] == 3
    export_checkpoint(root / "run" / "checkpoint.pt", root / "models" / "tiny-seg", heldout=8)
    return root / "models" / "tiny-seg.json"


@pytest.fixture(scope="module")
def tiny(tiny_segmenter: Path) -> Segmenter:
    info = load_model(tiny_segmenter)
    return Segmenter(ort.InferenceSession(str(info.path), providers=["CPUExecutionProvider"]), info)


def test_trained_segmenter_exports_a_contract_manifest(tiny_segmenter: Path):
    manifest = json.loads(tiny_segmenter.read_text())
    assert manifest["kind"] == "segmenter" and manifest["resolution"] == 16
    assert manifest["sha256"] == sha256_file(tiny_segmenter.with_suffix(".onnx"))
    assert [c["name"] for c in manifest["label_classes"]] == [c.name for c in LABEL_CLASSES]
    assert manifest["outputs"][0]["name"] == "logits" and manifest["outputs"][0]["shape"][1] == NUM_CLASSES
    assert manifest["training"]["steps"] == 3 and manifest["training"]["config"]["kind"] == "segmenter"
    metrics = manifest["metrics"]
    assert metrics["onnx_parity_max_abs_diff"] < 1e-3
    for key in ("clean", "blurred"):
        assert 0 <= metrics["heldout_renders"][key]["miou"] <= 1
        assert 0 <= metrics["heldout_renders"][key]["pixel_accuracy"] <= 1
    registry = ModelRegistry([tiny_segmenter.parent])
    assert registry.get("tiny-seg").kind == "segmenter" and not registry.problems


def test_segment_converts_sizes_gray_and_rgba(tiny: Segmenter):
    rgb = render_scenes(1, seed=5, size=40).images[0][:, :30]  # non-square, not the model's size
    gray = rgb.mean(axis=2).astype(np.uint8)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    maps = tiny.segment([rgb, gray, gray[:, :, None], rgba])
    assert all(m.shape == (16, 16) and m.dtype == np.uint8 for m in maps)
    assert np.array_equal(maps[0], maps[3])  # alpha is dropped, not read as colour
    assert np.array_equal(maps[1], maps[2])
    assert int(max(m.max() for m in maps)) < NUM_CLASSES
    assert tiny.segment([]) == []


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((32, 32, 3), np.float32), "dtype float32"),
        (np.zeros((32, 32, 3), np.int64), "dtype int64"),
        (np.zeros((4, 32, 3), np.uint8), "at least 8x8"),
        (np.zeros((32, 32, 2), np.uint8), "expected HxW"),
        (np.zeros((2, 32, 32, 3), np.uint8), "expected HxW"),
        ([[1, 2], [3, 4]], "not a numpy array"),
    ],
)
def test_segment_rejects_bad_images_clearly(tiny: Segmenter, image, message):
    with pytest.raises(SegmenterError, match=message):
        tiny.segment([np.zeros((16, 16, 3), np.uint8), image])


def test_segmenter_refuses_other_model_kinds(tiny: Segmenter):
    with pytest.raises(SegmenterError, match="not a segmenter"):
        Segmenter(tiny.runner, dataclasses.replace(tiny.info, kind="generator"))


def test_class_map_png_round_trip_and_bad_maps():
    indices = np.arange(64, dtype=np.int64).reshape(8, 8) % NUM_CLASSES
    with Image.open(io.BytesIO(class_map_to_png(indices))) as im:
        assert im.mode == "L" and np.array_equal(np.asarray(im), indices)
    for bad, message in (
        (np.zeros((4, 4, 3), np.uint8), "2-D"),
        (np.zeros((4, 4), np.float32), "integer"),
        (np.full((4, 4), 300), "0-255"),
        (np.full((4, 4), -1), "0-255"),
    ):
        with pytest.raises(SegmenterError, match=message):
            class_map_to_png(bad)


def test_scores_skip_absent_classes():
    target = np.array([[1, 1], [2, 2]])
    predicted = np.array([[1, 1], [1, 2]])
    result = scores(confusion(predicted, target, 4), ["unknown", "a", "b", "c"])
    assert result["pixel_accuracy"] == 0.75
    assert result["per_class_iou"] == {"a": round(2 / 3, 4), "b": 0.5}
    assert result["miou"] == pytest.approx((2 / 3 + 0.5) / 2, abs=1e-4)


def test_manifest_schema_rejects_broken_segmenters(tiny_segmenter: Path):
    data = json.loads(tiny_segmenter.read_text())
    without = {k: v for k, v in data.items() if k != "label_classes"}
    with pytest.raises(ModelError, match="'label_classes' is missing"):
        parse_manifest(tiny_segmenter, without)
    fewer = {**data, "label_classes": data["label_classes"][:5]}
    with pytest.raises(ModelError, match="number of label_classes"):
        parse_manifest(tiny_segmenter, fewer)
    renamed = {**data, "outputs": [{**data["outputs"][0], "name": "scores"}]}
    with pytest.raises(ModelError, match="named 'logits'"):
        parse_manifest(tiny_segmenter, renamed)


def test_eval_reports_sketch_fidelity(tmp_path: Path, models_dir: Path, tiny_segmenter: Path):
    folder = tmp_path / "models"
    shutil.copytree(models_dir, folder)
    for suffix in (".onnx", ".json"):
        shutil.copy(tiny_segmenter.with_suffix(suffix), folder)
    pipe = Pipeline(ModelRegistry([folder]), device="cpu")
    generator = pipe.registry.get("tiny-gen")
    assert pipe.registry.segmenter_for(generator).name == "tiny-seg"
    other = dataclasses.replace(generator, label_classes=generator.label_classes[:3])
    assert pipe.registry.segmenter_for(other) is None

    result = evaluate(pipe, "tiny-gen", n=4, judge_steps=3, judge_images=64)
    fidelity = result["sketch_fidelity"]
    assert fidelity["segmenter"] == "tiny-seg"
    for key in ("generated", "real_renders"):
        assert 0 <= fidelity[key]["miou"] <= 1 and 0 <= fidelity[key]["pixel_accuracy"] <= 1
    assert "sketch fidelity (tiny-seg)" in format_table(result)
    assert json.loads(json.dumps(result))["sketch_fidelity"]["segmenter"] == "tiny-seg"


@pytest.mark.parametrize("name", sorted(SHIPPED_FLOORS))
def test_shipped_segmenter_segments_held_out_renders(name: str):
    if not (SHIPPED.parent / f"{name}.onnx").exists():
        pytest.skip(f"the shipped {name} is not exported")
    info = ModelRegistry([SHIPPED.parent]).get(name)
    segmenter = Segmenter(ort.InferenceSession(str(info.path), providers=["CPUExecutionProvider"]), info)
    size = info.resolution
    scenes = render_scenes(64, seed=40_000, size=size, split="eval")
    predicted = np.stack(segmenter.segment(list(scenes.images)))
    result = scores(confusion(predicted, scenes.labels, NUM_CLASSES), [c.name for c in LABEL_CLASSES])
    accuracy_floor, miou_floor = SHIPPED_FLOORS[name]
    assert result["pixel_accuracy"] > accuracy_floor, result
    assert result["miou"] > miou_floor, result
    # An imported picture of another size gives a sketch the pipeline reads back.
    big = np.asarray(Image.fromarray(scenes.images[0]).resize((200, 150)))
    png = class_map_to_png(segmenter.segment([big])[0])
    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (size, size) and im.mode == "L"


def test_each_shipped_generator_and_translator_is_measured_at_its_own_size():
    """A 64 px segmenter reads a 128 px picture after shrinking it, losing thin things (flowers:
    IoU 0.27 against segmenter128's 0.82 on eval renders), so 128 px models get segmenter128."""
    registry = ModelRegistry([SHIPPED.parent])
    if not {"segmenter64", "segmenter128"} <= {m.name for m in registry.models()}:
        pytest.skip("both shipped segmenters are needed")
    for generator in ("landscape64", "landscape128_v5v"):
        info = registry.get(generator)
        assert registry.segmenter_for(info).resolution == info.resolution
    names = [c.name for c in LABEL_CLASSES]  # what `studio eval-translate` asks for
    assert registry.segmenter_speaking(names, 128).name == "segmenter128"
    assert registry.segmenter_speaking(names, 64).name == "segmenter64"
