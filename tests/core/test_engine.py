"""Engine on real onnxruntime sessions. This machine has no GPU, so CUDA requests must fall back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import write_custom_op_model

from studio.inference.engine import CPU, SPINNING, Engine
from studio.inference.registry import ModelError


def test_cpu_session_is_cached_and_reports_its_provider(models_dir: Path) -> None:
    engine = Engine("cpu")
    session = engine.session(models_dir / "tiny-up.onnx")
    assert engine.session(models_dir / "tiny-up.onnx") is session
    assert engine.provider == CPU
    assert engine.provider in session.get_providers()
    assert engine.drain_notices() == []


def test_sessions_let_their_threads_sleep_between_runs(models_dir: Path) -> None:
    """Live sound alternates two sessions (encoder, generator); spinning pool threads of one would
    take the cores from the other (`studio bench`: live sound 84 → 30 ms per frame)."""
    engine = Engine("cpu")
    for name in ("tiny-up", "tiny-gen"):
        options = engine.session(models_dir / f"{name}.onnx").get_session_options()
        assert options.get_session_config_entry(SPINNING) == "0"


def test_cuda_request_falls_back_to_cpu_with_a_notice(models_dir: Path) -> None:
    engine = Engine("cuda")
    session = engine.session(models_dir / "tiny-up.onnx")
    assert engine.provider in session.get_providers()
    if engine.provider == CPU:  # no usable GPU here: the fallback must be said once
        notices = engine.drain_notices()
        assert len(notices) == 1
        assert notices[0].startswith("CUDA not available (") and notices[0].endswith("running on CPU")
        assert engine.drain_notices() == []


def test_cuda_request_prints_nothing_while_looking_for_pip_cuda_libraries(models_dir: Path, capsys) -> None:
    """Asking for CUDA preloads the nvidia-* pip libraries (onnxruntime.preload_dlls), whose
    complaints about missing files must not reach the terminal: one notice says it all."""
    engine = Engine("cuda")
    engine.run(models_dir / "tiny-up.onnx", {"image": np.zeros((1, 3, 16, 16), np.float32)})
    assert capsys.readouterr().out == ""
    assert len(engine.drain_notices()) <= 1


def test_auto_device_works_and_says_what_it_uses(models_dir: Path) -> None:
    engine = Engine()
    out = engine.run(models_dir / "tiny-up.onnx", {"image": np.zeros((2, 3, 16, 16), np.float32)})
    assert out["upscaled"].shape == (2, 3, 32, 32)
    assert engine.provider in engine.session(models_dir / "tiny-up.onnx").get_providers()


def test_auto_on_a_machine_without_an_nvidia_gpu_says_why_quietly() -> None:
    """No toast on every start of a GPU-less machine; the reason is kept for the status bar."""
    if Path("/proc/driver/nvidia/version").exists():
        pytest.skip("this machine has an NVIDIA driver")
    engine = Engine("auto")
    assert engine.provider == CPU and engine.cpu_reason == "no NVIDIA GPU found"
    assert engine.drain_notices() == []
    assert Engine("cpu").cpu_reason == "the CPU was chosen in Settings"


def test_bad_device_name() -> None:
    with pytest.raises(ModelError, match="device must be one of auto, cpu, cuda"):
        Engine("tpu")


def test_run_error_is_a_model_error_naming_the_file(models_dir: Path) -> None:
    engine = Engine("cpu")
    with pytest.raises(ModelError, match="tiny-up.onnx failed to run"):
        engine.run(models_dir / "tiny-up.onnx", {"image": np.zeros((1, 3, 7, 7), np.float32)})


def test_missing_and_damaged_files(tmp_path: Path) -> None:
    engine = Engine("cpu")
    with pytest.raises(ModelError, match="missing"):
        engine.session(tmp_path / "none.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="junk.onnx: onnxruntime cannot load it"):
        engine.session(tmp_path / "junk.onnx")


def test_custom_ops_fail_with_a_clear_message(tmp_path: Path) -> None:
    """A manifest may allow custom ops, but onnxruntime without them still cannot load the model."""
    write_custom_op_model(tmp_path)
    with pytest.raises(ModelError, match="custom operators"):
        Engine("cpu").session(tmp_path / "custom.onnx")
