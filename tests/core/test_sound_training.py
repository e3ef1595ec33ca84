"""The sound encoder trains (a few real steps), resumes, exports to ONNX and loads in the registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")


def test_sound_encoder_trains_resumes_and_exports(tmp_path: Path, models_dir: Path) -> None:
    import torch

    from studio.export.sound_export import export_sound_encoder
    from studio.inference.registry import ModelRegistry
    from studio.training.loop import load_checkpoint
    from studio.training.run import shipped_embedder
    from studio.training.sound_encoder import SoundConfig, train_sound_encoder

    torch.set_num_threads(1)
    cfg = SoundConfig(bank_size=12, batch=6, steps=2, snapshot_every=1, clip_seconds=2.5, window_seconds=1.0)
    embed = shipped_embedder()
    out = tmp_path / "run"
    first = train_sound_encoder(cfg, out, embed)
    assert first["steps"] == 2 and np.isfinite(first["metrics"]["loss"])
    cfg.steps = 3
    assert train_sound_encoder(cfg, out, embed, resume=True)["steps"] == 3
    state = load_checkpoint(out / "checkpoint.pt")  # weights_only=True inside
    assert state["step"] == 3 and json.loads(state["config"])["window_seconds"] == 1.0
    folder = tmp_path / "models"
    shutil.copytree(models_dir, folder, symlinks=True)
    for stale in folder.glob("sound_encoder.*"):
        stale.unlink()
    manifest = export_sound_encoder(state, folder / "sound_encoder", embed, heldout=8)
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-3
    assert 0.0 <= manifest["metrics"]["listen_top1_synthetic_heldout"] <= 1.0
    registry = ModelRegistry([folder])
    info = registry.get("sound_encoder")
    assert info.kind == "audio_encoder" and info.manifest["window_seconds"] == 1.0


def test_band_norm_cancels_a_fixed_colouring_and_exports(tmp_path: Path, models_dir: Path) -> None:
    """The band-normalised channel is the same for a sound and the sound through a fixed EQ (a
    constant offset per mel band in log-mel): with the raw channel's first weights zeroed, the
    embedding cannot tell them apart. A trained band-norm encoder exports with ONNX parity and a
    version newer than the real-recording generation before it, so new sounds are heard by it."""
    import torch

    from studio.export.sound_export import export_sound_encoder, version_prefix
    from studio.inference.registry import ModelRegistry
    from studio.training.loop import load_checkpoint
    from studio.training.run import shipped_embedder
    from studio.training.sound_encoder import SoundConfig, SoundEncoder, train_sound_encoder

    torch.manual_seed(0)
    net = SoundEncoder(width=4, dim=8, band_norm=True).eval()
    with torch.no_grad():
        net.features[0][0].weight[:, 0] = 0  # the raw channel of the first conv
        mel = torch.randn(2, 64, 50)
        coloured = mel + torch.linspace(-3, 2, 64)[None, :, None]  # a tilt of the whole spectrum
        assert torch.allclose(net(mel), net(coloured), atol=1e-5)
        assert not torch.allclose(net(mel), net(mel.flip(2) * 0.5), atol=1e-3)

    torch.set_num_threads(1)
    cfg = SoundConfig(
        bank_size=12, batch=6, steps=2, snapshot_every=1, clip_seconds=2.5, window_seconds=1.0, band_norm=True
    )
    embed = shipped_embedder()
    train_sound_encoder(cfg, tmp_path / "run", embed)
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    folder = tmp_path / "models"
    shutil.copytree(models_dir, folder, symlinks=True)
    manifest = export_sound_encoder(state, folder / "sound_encoder_band", embed, heldout=8)
    assert manifest["metrics"]["onnx_parity_max_abs_diff"] < 1e-3
    real = SoundConfig(real_dir="x")
    assert version_prefix(SoundConfig(real_dir="x", band_norm=True)) > version_prefix(real)
    registry = ModelRegistry([folder])
    assert registry.get("sound_encoder_band").manifest["training"]["config"]["band_norm"] is True
    assert manifest["version"].startswith("1.0.")  # synthetic only: the synthetic generation


def test_bad_sound_config_is_refused() -> None:
    from studio.training.sound_encoder import SoundConfig

    with pytest.raises(ValueError, match="unknown config keys: widht"):
        SoundConfig.from_dict({"widht": 3})
