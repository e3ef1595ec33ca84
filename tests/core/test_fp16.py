"""fp16 twins: written only with parity, hash-checked, used on CUDA only (the CPU keeps fp32)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.cli.train import run_fp16
from studio.errors import CommandError
from studio.export.fp16 import Fp16Error, add_fp16_twin
from studio.inference.manifest import ModelError
from studio.inference.pipeline import Pipeline
from studio.inference.registry import ModelRegistry, load_model

SHIPPED = Path(__file__).resolve().parents[2] / "exported_models"


@pytest.fixture
def folder(tmp_path: Path, models_dir: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(models_dir, target, symlinks=False)
    return target


def test_twin_is_written_checked_and_kept_off_the_cpu(folder: Path) -> None:
    entry = add_fp16_twin(folder / "tiny-gen.json")
    assert entry["file"] == "tiny-gen.fp16.onnx" and entry["parity_max_abs_diff"] < 4e-3
    info = load_model(folder / "tiny-gen.json")
    assert info.fp16_path == folder / "tiny-gen.fp16.onnx"
    registry = ModelRegistry([folder])
    assert not registry.problems  # the twin is not an orphan .onnx
    pipe = Pipeline(registry, device="cpu")
    assert pipe.engine._gpu_twins[info.path.resolve()] == info.fp16_path.resolve()
    recipes = pipe.recipes_for("a lake", count=2, size=16)
    fp32 = Pipeline(ModelRegistry([folder]), device="cpu")
    (folder / "tiny-gen.fp16.onnx").write_bytes(b"damaged")  # the CPU never reads it
    assert np.array_equal(np.stack(pipe.render(recipes)), np.stack(fp32.render(recipes)))


def test_a_damaged_twin_is_dropped_not_the_model(folder: Path) -> None:
    add_fp16_twin(folder / "tiny-gen.json")
    (folder / "tiny-gen.fp16.onnx").write_bytes(b"changed")
    info = load_model(folder / "tiny-gen.json")
    assert info.fp16_path is None and info.kind == "generator"
    data = json.loads((folder / "tiny-gen.json").read_text())
    data["fp16"]["file"] = "../elsewhere.onnx"
    (folder / "tiny-gen.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="fp16.file"):
        load_model(folder / "tiny-gen.json")


def test_no_twin_without_parity(folder: Path) -> None:
    with pytest.raises(Fp16Error, match="differs from fp32"):
        add_fp16_twin(folder / "tiny-gen.json", tolerance=-1.0)
    assert not (folder / "tiny-gen.fp16.onnx").exists()
    assert "fp16" not in json.loads((folder / "tiny-gen.json").read_text())
    with pytest.raises(CommandError, match="no manifest"):
        run_fp16(argparse.Namespace(manifest=folder / "none.json"))


@pytest.mark.skipif(not (SHIPPED / "landscape64.fp16.onnx").is_file(), reason="no shipped fp16 twin")
def test_shipped_twins_are_registered() -> None:
    registry = ModelRegistry([SHIPPED])
    for name in (
        "landscape64",
        "landscape_sr",
        "landscape128",
        "landscape_sr128",
        "landscape128_v4",
        "landscape128_v5",
        "landscape128_v5c",
        "landscape128_v5t",
        "landscape128_v5u",
        "landscape128_v5v",
        "landscape128_v5x",
        "landscape128_v5y",
        "landscape128_v5z",
        "landscape_sr128_v2",
    ):
        if not (SHIPPED / f"{name}.json").is_file():
            continue
        info = registry.get(name)
        assert info.fp16_path is not None and info.manifest["fp16"]["parity_max_abs_diff"] < 4e-3


@pytest.mark.skipif(not (SHIPPED / "landscape128_v4.json").is_file(), reason="no shipped v4 generator")
def test_a_graph_with_clamps_gets_a_twin(tmp_path: Path) -> None:
    """v4's clamp bounds are exported as Cast(Constant); unfolded, the converter made a twin that
    onnxruntime refused ("Type Error … /Cast")."""
    for suffix in (".json", ".onnx"):
        shutil.copy(SHIPPED / f"landscape128_v4{suffix}", tmp_path / f"landscape128_v4{suffix}")
    (tmp_path / "landscape128_v4.json").write_text(
        json.dumps(
            {
                k: v
                for k, v in json.loads((tmp_path / "landscape128_v4.json").read_text()).items()
                if k != "fp16"
            }
        )
    )
    entry = add_fp16_twin(tmp_path / "landscape128_v4.json")
    assert entry["parity_max_abs_diff"] < 4e-3
    assert load_model(tmp_path / "landscape128_v4.json").fp16_path == tmp_path / "landscape128_v4.fp16.onnx"
    assert not list(tmp_path.glob("*.fp16.onnx.*"))  # no scratch file left behind
