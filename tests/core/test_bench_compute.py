"""Compute figures of `studio bench`: exact MAC counts, torch eager on the shipped weights matching
onnxruntime, and one side-by-side run over a models folder (no timed asserts)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from studio.bench.compute import (
    PARITY_TOLERANCE,
    ComputeUnavailable,
    compute_rows,
    count_macs,
    feeds_for,
    format_compute,
    load_torch_module,
    peak_gflops,
    torch_eager_ms,
    torch_outputs,
)
from studio.paths import shipped_models_dir

SHIPPED = shipped_models_dir()
REBUILDABLE = [
    "landscape64",
    "landscape128",
    "landscape_sr",
    "landscape_sr128",
    "segmenter64",
    "segmenter128",
    "sound_encoder",
    "image_encoder",
]


def shipped(name: str) -> Path:
    path = SHIPPED / f"{name}.onnx"
    if not path.exists():
        pytest.skip(f"the shipped {name} is not exported")
    return path


def manifest(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


@pytest.fixture(autouse=True)
def one_thread():
    """The machine is shared: keep torch at one thread, restored afterwards."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Conv, grouped Conv, ConvTranspose, Linear (Gemm) and a MatMul, exported with a dynamic batch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    nn = torch.nn

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
            self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
            self.fc = nn.Linear(4 * 32 * 32, 10)
            self.proj = nn.Parameter(torch.randn(10, 5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.up(torch.relu(self.grouped(torch.relu(self.conv(x)))))
            return torch.matmul(self.fc(h.flatten(1)), self.proj)

    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    with warnings.catch_warnings():  # the project exports with the TorchScript exporter on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            Tiny().eval(),
            (torch.randn(2, 3, 16, 16),),
            str(path),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
            opset_version=17,
            dynamo=False,
        )
    return path


def test_count_macs_matches_the_hand_count(tiny_onnx: Path) -> None:
    conv = (8 * 16 * 16) * 3 * 3 * 3  # output elements × Cin/groups × kH × kW
    grouped = (8 * 16 * 16) * (8 // 4) * 3 * 3
    transposed = (8 * 16 * 16) * 4 * 2 * 2  # input elements × Cout/groups × kH × kW
    gemm = 10 * (4 * 32 * 32)
    matmul = 5 * 10
    one = count_macs(tiny_onnx, {"x": (1, 3, 16, 16)})
    assert one["by_op"] == {
        "Conv": conv + grouped,
        "ConvTranspose": transposed,
        "Gemm": gemm,
        "MatMul": matmul,
    }
    assert one["macs"] == conv + grouped + transposed + gemm + matmul
    assert one["gmacs"] == pytest.approx(one["macs"] / 1e9)
    assert count_macs(tiny_onnx, {"x": (3, 3, 16, 16)})["macs"] == 3 * one["macs"]


def test_count_macs_refuses_wrong_inputs_with_the_expected_names(tiny_onnx: Path) -> None:
    with pytest.raises(ValueError, match=r"inputs are \['x'\]"):
        count_macs(tiny_onnx, {"image": (1, 3, 16, 16)})
    with pytest.raises(ValueError, match="rank 4"):
        count_macs(tiny_onnx, {"x": (1, 3, 16)})
    with pytest.raises(ValueError, match="rank 4"):
        count_macs(tiny_onnx, {"x": (0, 3, 16, 16)})


def test_count_macs_of_the_shipped_text_encoder_counts_its_int8_matmuls() -> None:
    pytest.importorskip("onnx")
    path = shipped("text_minilm")
    feeds = feeds_for(manifest(path))
    tokens = feeds["input_ids"].shape[1]
    by_op = count_macs(path, {k: v.shape for k, v in feeds.items()})["by_op"]
    # 6 layers × (Q, K, V, O: 384×384 and the 384→1536→384 feed-forward) per token
    assert by_op["MatMulNBits"] == 6 * (4 * 384 * 384 + 2 * 384 * 1536) * tokens


@pytest.mark.parametrize("name", REBUILDABLE)
def test_torch_eager_on_the_shipped_weights_matches_onnxruntime(name: str) -> None:
    pytest.importorskip("torch")
    path = shipped(name)
    feeds = feeds_for(manifest(path), np.random.default_rng(7))
    if (
        name.startswith("landscape") and "labels" in feeds
    ):  # a real sketch, so every SPADE branch carries weight
        classes = np.random.default_rng(1).integers(0, feeds["labels"].shape[1], feeds["labels"].shape[2:])
        feeds["labels"] = np.eye(feeds["labels"].shape[1], dtype=np.float32)[classes].transpose(2, 0, 1)[None]
    net = load_torch_module(path, feeds)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    got = torch_outputs(net, feeds)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.shape == b.shape
        assert float(np.abs(a - b).max()) <= PARITY_TOLERANCE
    assert torch_eager_ms(path, feeds, repeat=1, threads=1) > 0


def test_text_encoder_and_configless_models_say_why_torch_is_not_available(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    text = shipped("text_minilm")
    with pytest.raises(ComputeUnavailable, match="quantised"):
        load_torch_module(text, feeds_for(manifest(text)))
    source = shipped("landscape_sr")
    copy = tmp_path / "sr.onnx"
    shutil.copy(source, copy)
    stripped = {k: v for k, v in manifest(source).items() if k != "training"}
    copy.with_suffix(".json").write_text(json.dumps(stripped))
    with pytest.raises(ComputeUnavailable, match="training.config"):
        load_torch_module(copy, feeds_for(stripped))


def test_peak_is_measured_on_the_cpu_only() -> None:
    assert peak_gflops("cpu", threads=1, seconds=0.05) > 0
    assert peak_gflops("cuda") is None


def test_compute_rows_measures_the_shipped_generator_beside_a_broken_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    source = shipped("landscape64")
    shutil.copy(source, tmp_path / "landscape64.onnx")
    shutil.copy(source.with_suffix(".json"), tmp_path / "landscape64.json")
    (tmp_path / "broken.onnx").write_bytes(b"not an onnx file")
    (tmp_path / "broken.json").write_text(json.dumps(manifest(source)))
    (tmp_path / "sidecar.tokenizer.json").write_text("{}")  # no .onnx beside it: not a model

    result = compute_rows(tmp_path, repeat=1, threads=1)

    assert result["device"] == "cpu" and result["threads"] == 1
    assert result["peak_gflops"] > 0
    assert set(result["models"]) == {"landscape64", "broken"}
    row = result["models"]["landscape64"]
    for key in ("gmacs", "ort_ms", "torch_ms", "torch_over_ort", "share_of_peak"):
        assert row[key] > 0, key
    assert row["gmacs_by_op"]["Conv"] > 0
    assert row["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert "error" in result["models"]["broken"]
    lines = format_compute(result)
    assert any(line.strip().startswith("landscape64:") and "torch eager" in line for line in lines)
    assert any(line.strip().startswith("broken: n/a") for line in lines)


def test_compute_rows_takes_model_paths_as_a_registry_lists_them() -> None:
    pytest.importorskip("torch")
    result = compute_rows([shipped("image_encoder")], repeat=1, threads=1)
    row = result["models"]["image_encoder"]
    assert row["gmacs"] > 0 and row["torch_ms"] > 0 and row["share_of_peak"] > 0
