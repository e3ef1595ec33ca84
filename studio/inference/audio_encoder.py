"""AudioEncoder: a sound → one unit vector in the text encoder's embedding space.

The ONNX net sees log-mel windows of the length it was trained on; a long clip is cut into
half-overlapping windows and their embeddings averaged, a short one is looped to fill a window
(ambient sounds are stationary, so looping keeps their character where zero-padding would add
silence the net never heard).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.audio.io import Audio
from studio.audio.mel import log_mel_batch
from studio.audio.steady import HISS_WORDS, is_steady_hiss
from studio.inference.manifest import ModelError, ModelInfo
from studio.inference.sound_pin import pin_of

MAX_WINDOWS = 32  # a 10-minute file is summarised by 32 evenly spread windows, not thousands


def clip_windows(samples: np.ndarray, window: int) -> np.ndarray:
    """[W, window] float32: looped if short, half-overlapping (at most MAX_WINDOWS) if long."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        raise ValueError("the sound is empty")
    if samples.size < window:
        repeats = -(-window // samples.size)
        return np.tile(samples, repeats)[None, :window]
    starts = np.arange(0, samples.size - window + 1, window // 2)
    if starts.size > MAX_WINDOWS:
        starts = np.linspace(0, samples.size - window, MAX_WINDOWS).astype(np.int64)
    return np.stack([samples[s : s + window] for s in starts])


class AudioEncoder:
    """Wraps an audio-encoder session with the feature front end its manifest describes."""

    def __init__(self, session, info: ModelInfo) -> None:
        self.session = session
        self.info = info
        self.rate = int(info.manifest.get("sample_rate", 16000))
        self.window = int(float(info.manifest.get("window_seconds", 2.0)) * self.rate)

    def windows(self, samples: np.ndarray) -> np.ndarray:
        return clip_windows(samples, self.window)

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """[W, D] unit vectors, one per window."""
        mel = log_mel_batch(windows).astype(np.float32)
        name = self.info.inputs[0].name
        out = self.session.run(None, {name: mel})[0]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)

    def embed(self, audio: Audio | np.ndarray) -> np.ndarray:
        """[D] unit vector for a whole clip (mean of its windows' embeddings, renormalised)."""
        samples = audio.samples if isinstance(audio, Audio) else audio
        mean = self.embed_windows(self.windows(samples)).mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-8)).astype(np.float32)


def blend_toward(prompt: np.ndarray, target: np.ndarray, strength: float) -> np.ndarray:
    """Move a unit text embedding toward a sound's embedding: lerp by strength, then renormalise.

    strength 0 keeps the prompt, 1 is the sound alone; values above 1 push past it (exaggerate).
    """
    mixed = (1.0 - strength) * np.asarray(prompt, dtype=np.float32) + strength * np.asarray(
        target, np.float32
    )
    norm = float(np.linalg.norm(mixed))
    return (mixed / norm if norm > 1e-8 else np.asarray(target, dtype=np.float32)).astype(np.float32)


def loudness_strength(samples: np.ndarray, floor_db: float = -50.0, ceiling_db: float = -10.0) -> float:
    """0..1 from a clip's RMS level: quiet sounds edit gently, loud ones fully ("louder = stronger")."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if np.size(samples) else 0.0
    level = 20.0 * np.log10(max(rms, 1e-10))
    return float(np.clip((level - floor_db) / (ceiling_db - floor_db), 0.0, 1.0))


def rank_labels(
    pipe, info: ModelInfo, samples: np.ndarray, sound: np.ndarray | None = None
) -> list[tuple[str, float, dict[str, str]]]:
    """(label, cosine, implied scene attributes) for each sound the encoder's manifest names, best
    first: zero-shot recognition against the centroid of each label's prompt embeddings. `sound`:
    the samples' vector when the caller has already encoded them (so they are heard once)."""
    audio_info = pipe.audio_encoder_for(info)
    if not audio_info.manifest.get("listen_labels"):
        raise ModelError(f"{audio_info.name} lists no sounds to recognise (manifest 'listen_labels')")
    if sound is None:
        sound = pipe.encode_sound(info, samples)
    scores = [
        (str(label["display"]), float(sound @ centre), dict(label.get("attributes", {})))
        for centre, label in pipe.label_centres(info)
    ]
    return sorted(scores, key=lambda row: -row[1])


@dataclass(frozen=True)
class Heard:
    """What a sound encoder heard: its labels ranked best first, and the encoder's calibrated
    `listen_floor` (top-1 cosine) below which it cannot place the sound rather than guess."""

    ranked: list[tuple[str, float, dict[str, str]]]
    encoder: str  # "NAME VERSION"
    floor: float | None  # None: the encoder was not calibrated, so it names every sound
    hiss: bool = False  # a steady flat noise (studio.audio.steady), never placed whatever it scores

    @property
    def placed(self) -> bool:
        if not self.ranked or self.hiss:
            return False
        return self.floor is None or self.ranked[0][1] >= self.floor

    def verdict(self) -> str:
        """ "sounds like Rain 0.61" or "can't place this sound (closest: Rain 0.31)"."""
        if not self.ranked:
            return "nothing heard"
        name, score, _ = self.ranked[0]
        if self.placed:
            return f"sounds like {name} {score:.2f}"
        if self.hiss:
            return f"can't place this sound, {HISS_WORDS} (closest: {name} {score:.2f})"
        return f"can't place this sound (closest: {name} {score:.2f})"


def listen(pipe, info: ModelInfo, samples: np.ndarray, sound: np.ndarray | None = None) -> Heard:
    """rank_labels with the verdict of the encoder that heard it (`studio listen`, the Sound panel)."""
    audio_info = pipe.audio_encoder_for(info)
    floor = audio_info.manifest.get("listen_floor")
    return Heard(
        rank_labels(pipe, info, samples, sound),
        pin_of(audio_info),
        None if floor is None else float(floor),
        is_steady_hiss(samples),
    )
