"""Image encoder: real training steps, export, registry load; the shipped encoder's retrieval; KID/FID."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from studio.eval.retrieval import HELDOUT_SEED, caption_pool, fid, kid, r_precision
from studio.inference.engine import Engine
from studio.inference.image_encoder import ImageEncoder, image_encoder_for
from studio.inference.manifest import ModelError, parse_manifest
from studio.inference.registry import ModelRegistry
from studio.paths import shipped_models_dir
from studio.world.scene import render_scenes

SHIPPED = shipped_models_dir() / "image_encoder.json"
# Measured 0.20 on the shipped encoder with exactly this test's renders and pool (0.20 on its
# manifest's 300 held-out renders); the floor sits well below that and far above chance (0.01).
R_PRECISION_FLOOR = 0.08


@pytest.fixture(scope="module")
def embed_text():
    from studio.training.run import shipped_embedder

    return shipped_embedder()


@pytest.fixture(scope="module")
def shipped() -> ImageEncoder:
    if not SHIPPED.is_file():
        pytest.skip("no shipped image encoder in exported_models/")
    info = ModelRegistry([shipped_models_dir()]).get("image_encoder")
    return ImageEncoder(Engine("cpu"), info)


def test_train_through_the_cli_export_and_load(tmp_path: Path, embed_text) -> None:
    from studio.cli import main
    from studio.export.image_export import export_image_encoder
    from studio.training.loop import load_checkpoint

    config = tmp_path / "tiny.json"
    config.write_text(
        json.dumps(
            {
                "name": "tiny_image",
                "kind": "image_encoder",
                "resolution": 32,
                "width": 8,
                "bank_size": 40,
                "captions_per_scene": 2,
                "batch": 16,
                "steps": 3,
                "snapshot_every": 2,
            }
        )
    )
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["kind"] == "image_encoder"  # what `studio export` dispatches on
    manifest = export_image_encoder(state, tmp_path / "models" / "tiny_image", embed_text, heldout=100)
    assert manifest["kind"] == "image_encoder" and manifest["training"]["steps"] == 3
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-3
    assert 0.0 <= manifest["metrics"]["r_precision_top1_of_100"] <= 1.0

    registry = ModelRegistry([tmp_path / "models"])
    info = image_encoder_for(registry.models(), "minilm-l6-v2")
    assert info.name == "tiny_image" and info.resolution == 32 and info.dim == 384
    encoder = ImageEncoder(Engine("cpu"), info)
    pictures = [np.full((100, 80, 3), 200, np.uint8), np.zeros((64, 64, 3), np.uint8)]
    vectors = encoder.embed(pictures)  # any size: resized to the encoder's resolution
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.features(pictures).shape == (2, 64)


def test_bad_inputs_give_clear_errors(tmp_path: Path, shipped: ImageEncoder) -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        shipped.embed([np.zeros((8, 8), np.uint8)])
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        shipped.embed([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(ValueError, match="no images"):
        shipped.embed([])
    data = json.loads(SHIPPED.read_text())
    del data["resolution"]
    with pytest.raises(ModelError, match="'resolution' is missing"):
        parse_manifest(tmp_path / "x.json", data)
    data = json.loads(SHIPPED.read_text())
    data["outputs"] = [{"name": "vector", "shape": ["N", 384], "dtype": "float32"}]
    with pytest.raises(ModelError, match="'embedding'"):
        parse_manifest(tmp_path / "x.json", data)
    with pytest.raises(ModelError, match="no image encoder"):
        image_encoder_for([], "minilm-l6-v2")
    with pytest.raises(ValueError, match="mismatched captions"):
        r_precision(np.eye(3), np.eye(3), np.eye(3), k=100)
    with pytest.raises(ValueError, match="same F|one F"):
        kid(np.zeros((4, 3)), np.zeros((4, 5)))


def test_shipped_encoder_ranks_true_captions_of_heldout_renders(shipped: ImageEncoder, embed_text) -> None:
    scenes = render_scenes(120, seed=HELDOUT_SEED + 7, size=64, split="eval")
    score = r_precision(
        shipped.embed(scenes.images), embed_text(scenes.captions), embed_text(caption_pool(120, seed=7))
    )
    assert score > R_PRECISION_FLOOR  # chance is 0.01


def test_shipped_encoder_reads_256px_renders_like_64px(shipped: ImageEncoder) -> None:
    small = render_scenes(8, seed=5, size=64).images
    large = render_scenes(8, seed=5, size=256).images
    cosines = (shipped.embed(small) * shipped.embed(large)).sum(axis=1)
    assert cosines.min() > 0.8


def test_kid_and_fid_are_zero_for_one_distribution_and_large_for_noise(shipped: ImageEncoder) -> None:
    renders = shipped.features(render_scenes(120, seed=HELDOUT_SEED + 9, size=64).images)
    fresh = shipped.features(render_scenes(120, seed=HELDOUT_SEED + 10, size=64).images)
    noise = shipped.features(np.random.default_rng(0).integers(0, 256, (120, 64, 64, 3), dtype=np.uint8))
    same, _ = kid(renders, renders)
    fresh_kid, _ = kid(fresh, renders)
    noise_kid, _ = kid(noise, renders)
    assert abs(same) < 0.05 * noise_kid
    assert abs(fresh_kid) < 0.05 * noise_kid
    assert fid(renders, renders) < 1e-6 * max(1.0, fid(noise, renders))
    assert fid(noise, renders) > 10 * fid(fresh, renders)


def test_kid_is_unbiased_on_gaussians() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    shifted = rng.normal(loc=1.0, size=(300, 16))
    assert abs(kid(a, b)[0]) < 0.1 * kid(shifted, b)[0]
    assert fid(a, b) < 0.2 * fid(shifted, b)


def test_parity_of_the_shipped_file_with_a_plain_session(shipped: ImageEncoder) -> None:
    """The registry's engine and a bare onnxruntime session give the same vectors."""
    session = ort.InferenceSession(str(shipped.info.path), providers=["CPUExecutionProvider"])
    images = render_scenes(4, seed=3, size=64).images
    np.testing.assert_allclose(
        ImageEncoder(session, shipped.info).embed(images), shipped.embed(images), atol=1e-5
    )


def test_generation_metrics_and_eval_table(shipped: ImageEncoder, embed_text) -> None:
    """`studio eval`'s block: real renders are the R-precision ceiling; a degraded set scores worse."""
    from studio.eval.retrieval import generation_metrics
    from studio.eval.run import _retrieval_lines

    scenes = render_scenes(40, seed=HELDOUT_SEED + 11, size=64, split="eval")
    reference = render_scenes(40, seed=HELDOUT_SEED + 12, size=64, split="eval").images
    grey = np.full_like(scenes.images, 128)
    metrics = generation_metrics(
        shipped, embed_text, scenes.images, scenes.captions, {"grey": grey}, reference
    )
    assert metrics["r_precision"]["real_renders"] > metrics["r_precision"]["grey"]
    assert metrics["kid"]["grey"]["mean"] > 10 * abs(metrics["kid"]["real_vs_fresh_real"]["mean"])
    text = "\n".join(_retrieval_lines({"model": "image_encoder", **metrics}))
    assert "real renders" in text and "grey" in text and "real_vs_fresh_real" in text
    assert "no image encoder" in _retrieval_lines(None)[0]
