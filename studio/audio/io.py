"""Reading, checking, resampling and writing sounds.

Every sound that reaches the models goes through `read_audio` (files) or `to_audio`
(recordings): float32 mono at the model rate, with problems a user should hear about
(silence, clipping, a cut) returned as warnings and broken input refused with an `AudioError`
that names the file. Resampling is a windowed-sinc polyphase filter in numpy, so the
application needs no scipy.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from studio.limits import MemoryLimitError, require

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MAX_SOUND_SECONDS = 60.0  # what a sound edit or `studio listen` hears: only this much is read
MAX_SOURCE_RATE = 384_000  # the highest rate audio interfaces record at; above it a header lies
SILENCE_PEAK_DB = -60.0  # quieter than this is treated as silence
CLIP_LEVEL = 0.999  # a sample this close to full scale counts as clipped
CLIP_FRACTION = 0.01  # warn when more than this fraction of samples is clipped
FLOOR_DB = -120.0  # the dBFS reported for digital silence (keeps meters finite)

_ZERO_CROSSINGS = 16  # half-length of the sinc kernel, in zero crossings of the lower rate
_KAISER_BETA = 8.6  # ~80 dB stopband
_ROLLOFF = 0.95  # cutoff as a fraction of the lower Nyquist frequency
_RESAMPLE_BLOCK = 4096  # output samples per block (bounds the gathered matrix to ~1.5 MB)


class AudioError(ValueError):
    """A sound that cannot be used; the message says what is wrong with which file."""


def to_db(value: float) -> float:
    """Amplitude to dBFS, floored at FLOOR_DB so silence stays a finite number."""
    return max(FLOOR_DB, 20.0 * math.log10(value)) if value > 0 else FLOOR_DB


@dataclass(frozen=True, eq=False)
class Audio:
    """A checked mono sound at `rate` (samples are float32 in [-1, 1] and read-only)."""

    samples: np.ndarray
    rate: int
    source_rate: int
    source_channels: int
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.samples.setflags(write=False)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @property
    def rms_db(self) -> float:
        """Loudness in dBFS (a full-scale sine is -3 dB)."""
        if not len(self.samples):
            return FLOOR_DB
        return to_db(float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64)))))

    @property
    def peak_db(self) -> float:
        return to_db(float(np.max(np.abs(self.samples)))) if len(self.samples) else FLOOR_DB

    @property
    def is_silent(self) -> bool:
        return self.peak_db < SILENCE_PEAK_DB


def _describe(source: Path | bytes, name: str | None) -> str:
    if name:
        return name
    return f"'{source.name}'" if isinstance(source, Path) else "the sound data"


def read_frames(
    source: Path | bytes, max_seconds: float | None = None, name: str | None = None
) -> tuple[np.ndarray, int, bool]:
    """Decode a WAV/FLAC/OGG file or its bytes: (float32 [frames, channels], rate, was_cut).

    Refuses missing, empty, undecodable and non-finite input with an AudioError naming
    `name` (default: the file name).
    """
    label = _describe(source, name)
    if isinstance(source, Path):
        if source.is_dir():
            raise AudioError(f"{label.capitalize()} is a folder, not a sound file.")
        if not source.is_file():
            raise AudioError(f"The sound file {label} does not exist.")
        if source.stat().st_size == 0:
            raise AudioError(f"The sound file {label} is empty (0 bytes).")
        handle: Path | io.BytesIO = source
    else:
        if not source:
            raise AudioError(f"{label.capitalize()} is empty (0 bytes).")
        handle = io.BytesIO(source)
    try:
        with sf.SoundFile(handle) as f:
            rate, total, channels = int(f.samplerate), int(f.frames), int(f.channels)
            if not 0 < rate <= MAX_SOURCE_RATE:
                raise AudioError(
                    f"{label.capitalize()} says its sample rate is {rate} Hz; sounds up to "
                    f"{MAX_SOURCE_RATE} Hz can be used (the header is damaged, or it is not audio)."
                )
            limit = total if max_seconds is None else min(total, int(round(max_seconds * rate)))
            require(limit * channels * 4, f"reading {label} ({limit} frames of {channels} channels)")
            data = f.read(frames=limit, dtype="float32", always_2d=True)
    except MemoryLimitError as exc:
        raise AudioError(f"{exc}.") from exc
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"{label.capitalize()} is not a readable sound (WAV, FLAC or OGG): it is corrupt or in "
            f"an unknown format ({exc})."
        ) from exc
    if not len(data):
        raise AudioError(f"{label.capitalize()} contains no audio samples.")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{label.capitalize()} contains invalid samples (NaN or infinity).")
    return data, rate, len(data) < total


def to_audio(
    samples: np.ndarray,
    source_rate: int,
    rate: int = SAMPLE_RATE,
    warnings: tuple[str, ...] = (),
    label: str = "the sound",
) -> Audio:
    """Mono-mix ([frames] or [frames, channels]), resample and check a sound.

    Clipping is judged before resampling (the filter's ringing would hide flat tops);
    silence after, on what the model will hear.
    """
    samples = np.asarray(samples, dtype=np.float32)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    mono = samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)
    found = list(warnings)
    clipped = float(np.mean(np.abs(mono) >= CLIP_LEVEL)) if len(mono) else 0.0
    if clipped > CLIP_FRACTION:
        found.append(
            f"{label.capitalize()} is clipped ({clipped:.0%} of samples at full scale): "
            "it may sound distorted; record it a little quieter."
        )
    out = np.clip(resample(mono, source_rate, rate), -1.0, 1.0).astype(np.float32)
    audio = Audio(out, rate, source_rate, channels, tuple(found))
    if audio.is_silent:
        found.append(
            f"{label.capitalize()} is silent (peak {audio.peak_db:.0f} dBFS): "
            "it will barely change the image."
        )
        audio = Audio(out, rate, source_rate, channels, tuple(found))
    return audio


def read_audio(
    source: Path | bytes,
    rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
    name: str | None = None,
) -> Audio:
    """Read a sound file (or its bytes) as checked float32 mono at `rate`, cut at `max_seconds`."""
    label = _describe(source, name)
    data, source_rate, cut = read_frames(source, max_seconds, name)
    warnings = (f"{label.capitalize()} was cut to its first {max_seconds:g} s.",) if cut else ()
    return to_audio(data, source_rate, rate, warnings, label)


@lru_cache(maxsize=32)
def _polyphase_kernel(up: int, down: int) -> tuple[np.ndarray, int]:
    """Kaiser-windowed sinc taps for each of the `up` output phases: ([up, taps], half width).

    Output sample m sits at input position m*down/up; its phase (m*down mod up) picks the
    row, whose taps apply to input samples floor(m*down/up) - half + 1 ... + half.
    """
    ratio = up / down
    cutoff = 0.5 * min(1.0, ratio) * _ROLLOFF  # cycles per input sample
    half = int(math.ceil(_ZERO_CROSSINGS / min(1.0, ratio)))
    offsets = np.arange(-half + 1, half + 1, dtype=np.float64)
    frac = np.arange(up, dtype=np.float64)[:, None] / up  # fractional position per phase
    d = offsets[None, :] - frac
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1.0 - (d / half) ** 2, 0.0, 1.0))) / np.i0(_KAISER_BETA)
    taps = 2.0 * cutoff * np.sinc(2.0 * cutoff * d) * window
    taps /= taps.sum(axis=1, keepdims=True)  # unit DC gain in every phase
    taps.setflags(write=False)
    return taps, half


def resample(samples: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """Band-limited resampling of a 1-D signal (length ceil(n * rate / source_rate)).

    Works through the output in blocks, gathering each block's input windows into a small
    matrix, so memory stays bounded and the inner products run in C.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if source_rate == rate or not len(samples):
        return samples.copy()
    g = math.gcd(int(source_rate), int(rate))
    up, down = int(rate) // g, int(source_rate) // g
    taps, half = _polyphase_kernel(up, down)
    taps = taps.astype(np.float32)
    n_out = -(-len(samples) * up // down)
    padded = np.pad(samples, (half, half + 1))
    offsets = np.arange(taps.shape[1]) + 1
    out = np.empty(n_out, dtype=np.float32)
    for m0 in range(0, n_out, _RESAMPLE_BLOCK):
        pos = np.arange(m0, min(n_out, m0 + _RESAMPLE_BLOCK), dtype=np.int64) * down
        rows = padded[(pos // up)[:, None] + offsets]  # [block, taps] input windows
        out[m0 : m0 + len(pos)] = np.einsum("ij,ij->i", rows, taps[pos % up])
    return out


def windows(audio: Audio, seconds: float, hop: float) -> list[np.ndarray]:
    """Fixed-length windows every `hop` seconds covering the whole sound (the last zero-padded)."""
    if seconds <= 0 or hop <= 0:
        raise ValueError(f"window length and hop must be positive (got {seconds}, {hop})")
    length = max(1, int(round(seconds * audio.rate)))
    step = max(1, int(round(hop * audio.rate)))
    n = len(audio.samples)
    count = 1 + max(0, -(-(n - length) // step))
    out = []
    for i in range(count):
        chunk = audio.samples[i * step : i * step + length]
        out.append(np.pad(chunk, (0, length - len(chunk))).astype(np.float32))
    return out


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV of [frames] or [frames, channels] float samples (clipped to [-1, 1])."""
    buffer = io.BytesIO()
    data = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    sf.write(buffer, data, int(rate), format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write a 16-bit WAV atomically (temp file + rename), so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(wav_bytes(samples, rate))
    os.replace(tmp, path)
