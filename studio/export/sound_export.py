"""Export the sound encoder: ONNX (log-mel in, unit embedding out) + parity + manifest with metrics.

The manifest carries the feature contract (rate, mel parameters, window length) so the app's
numpy front end computes exactly what the net was trained on, and `listen_labels` so `studio
listen` can name sounds without the world module.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch

from studio.audio import mel
from studio.audio.io import SAMPLE_RATE
from studio.eval.sound import listen_labels, sound_metrics
from studio.export.onnx_export import EMBEDDING_SPACE, parity, tensor_spec, write_onnx
from studio.hashing import sha256_file
from studio.inference.audio_encoder import clip_windows
from studio.training.audio_features import log_mel_torch
from studio.training.sound_encoder import SoundConfig, SoundEncoder


def export_sound_encoder(
    state: dict, out: Path, embed_text, license_: str = "MIT", heldout: int = 240
) -> dict:
    """Write OUT.onnx + OUT.json from a sound-encoder checkpoint state; returns the manifest."""
    cfg = SoundConfig.from_dict(json.loads(state["config"]))
    net = SoundEncoder.from_config(cfg)
    net.load_state_dict(state["net"])
    net.eval()
    window = int(cfg.window_seconds * SAMPLE_RATE)
    features = log_mel_torch(torch.randn(2, window) * 0.1)
    dynamic = {"mel": {0: "N", 2: "T"}, "embedding": {0: "N"}}
    onnx_path = write_onnx(net, (features,), out, ["mel"], ["embedding"], dynamic)
    max_diff = parity(net, (features,), ["mel"], onnx_path)

    def embed_sound(samples: np.ndarray) -> np.ndarray:
        windows = clip_windows(samples, window)
        with torch.no_grad():
            vectors = net(torch.from_numpy(mel.log_mel_batch(windows).astype(np.float32))).numpy()
        mean = vectors.mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-8)

    metrics = {"onnx_parity_max_abs_diff": max_diff, **sound_metrics(embed_sound, embed_text, n=heldout)}
    manifest = {
        "name": out.name,
        "version": f"{version_prefix(cfg)}.{state['step']}",
        "kind": "audio_encoder",
        "description": "Sound → text-embedding space (CNN on log-mel, contrastive to caption embeddings"
        + ("; synthesised and real recordings)." if cfg.real_dir else ")."),
        "embedding_space": EMBEDDING_SPACE,
        "sha256": sha256_file(onnx_path),
        "license": license_,
        "sample_rate": SAMPLE_RATE,
        "window_seconds": cfg.window_seconds,
        "features": {
            "type": "log-mel",
            "n_fft": mel.N_FFT,
            "win": mel.WIN,
            "hop": mel.HOP,
            "n_mels": mel.N_MELS,
            "fmin": mel.FMIN,
            "fmax": mel.FMAX,
        },
        "listen_labels": listen_labels(),
        **({"listen_floor": metrics["listen_floor"]["value"]} if "listen_floor" in metrics else {}),
        "inputs": [
            tensor_spec("mel", ["N", mel.N_MELS, "T"], "log-mel (studio.audio.mel.log_mel) of a window")
        ],
        "outputs": [tensor_spec("embedding", ["N", cfg.dim], "unit vector in the text encoder's space")],
        "training": {
            "config": cfg.to_dict(),
            "data": "studio.world.sounds procedural sounds (bank synthesised from the config seed)"
            + (_real_data(cfg) if cfg.real_dir else ""),
            "seed": cfg.seed,
            "steps": state["step"],
            "clips_seen": state["step"] * cfg.batch,
            "wall_time_s": round(float(state["wall_time_s"]), 1),
            "cpu_hours": round(float(state["wall_time_s"]) * cfg.threads / 3600.0, 3),
            "hardware": f"{platform.machine()} CPU, torch {torch.__version__}",
            "final_losses": state.get("metrics", {}),
            "reproduce": ("studio sounds fetch && " if cfg.real_dir else "")
            + f"studio train --config configs/{cfg.name}.json",
        },
        "metrics": metrics,
    }
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def version_prefix(cfg: SoundConfig) -> str:
    """Encoders trained on real recordings are a newer generation than synthetic-only ones of the
    same step count (1.1.600 > 1.0.600), and those that also see band-normalised mels newer still
    (1.2), so new recipes are heard by the newest generation installed."""
    if not cfg.real_dir:
        return "1.0"
    return "1.2" if cfg.band_norm else "1.1"


def _real_data(cfg: SoundConfig) -> str:
    """What the real half of the training data was: the set `studio sounds fetch` builds."""
    from studio.audio.real_set import RealSetError, training_clips
    from studio.training.sound_encoder import real_folder

    try:
        clips = training_clips(real_folder(cfg.real_dir or ""))
        counted = f"{len(clips)} clips of {len({kind for _, kind in clips})} kinds, "
    except RealSetError:
        counted = ""
    return (
        "; real recordings: the train split of studio/audio/real_sounds/manifest.json as "
        f"`studio sounds fetch` builds it ({counted}share {cfg.real_share:g}, "
        f"capture augmentation {cfg.augment:g})"
    )
