"""Hear the picture: a seamless ambience loop for a scene, mixed from the world's synthesised sounds.

The other direction of sound-guided editing. What a scene sounds like follows the same pairs the
sound edits use (rain → rainy, owl and crickets → night, birdsong → morning, waves and gulls → sea),
read backwards: the weather is heard first, then the creatures of the time of day, then what is
in the picture (sea, river, forest). The scene comes from the recipe (the attributes it was
rendered with) where there is one, else from the picture itself (`studio.scene_reading`).
A loop is one period whose end is crossfaded into its start, so any length tiles without a seam;
files are written a period at a time, so an hour of sound never sits in memory.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.scene_reading import SceneReading
from studio.world.sounds import KIND_INDEX, MAX_SECONDS, SOUND_KINDS, synth

RATE = 16000
MAX_LOOP_SECONDS = 20.0  # one synthesised period; longer files repeat it
MAX_FILE_SECONDS = 3600.0
CROSSFADE_SECONDS = 1.5
GAINS_DB = (0.0, -12.0, -17.0)  # the dominant sound, then two quieter beds
FORMATS = {".wav": "WAV", ".flac": "FLAC"}

# What fraction of the picture a class must cover to be heard (segmenter class names).
WATER, SAND, TREES = 0.08, 0.04, 0.12


class AmbienceError(ValueError):
    """An ambience cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Ambience:
    """The sounds to mix, dominant first, each with its gain and the reason it is there."""

    kinds: tuple[str, ...]
    gains_db: tuple[float, ...]
    reasons: tuple[str, ...]
    attributes: dict[str, str | None] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the user: "Rain (weather rainy), Stream −7 dB (river in the picture)"."""
        parts = []
        for kind, gain, reason in zip(self.kinds, self.gains_db, self.reasons, strict=True):
            level = f" {gain:+.0f} dB" if gain else ""
            parts.append(f"{SOUND_KINDS[KIND_INDEX[kind]].display}{level} ({reason})")
        return ", ".join(parts)


def features_from_classes(fractions: dict[str, float]) -> dict[str, str]:
    """Audible features (feature → why) from the share of the picture each class covers."""
    found: dict[str, str] = {}
    water, sand, trees = (fractions.get(name, 0.0) for name in ("water", "sand", "tree"))
    if water >= WATER and sand >= SAND:
        found["sea"] = f"water {water:.0%} by sand {sand:.0%}"
    elif water >= WATER:
        found["river"] = f"water {water:.0%}"
    if trees >= TREES:
        found["forest"] = f"trees {trees:.0%}"
    return found


def plan_ambience(attributes: dict[str, str | None], features: dict[str, str]) -> Ambience:
    """The sounds a scene with these attributes (group → value or None) and features makes."""
    weather, time, season = (attributes.get(g) for g in ("weather", "time", "season"))
    wanted: list[tuple[str, str]] = []
    loud = {"stormy": "thunderstorm", "rainy": "rain", "snowy": "blizzard"}
    if weather in loud:
        wanted.append((loud[weather], f"weather {weather}"))
    calm = weather not in ("stormy", "rainy", "snowy")  # creatures fall silent in a storm
    if time in ("night", "dusk") and calm:
        wanted.append(("owl" if season == "winter" else "crickets", f"time {time}"))
    elif time in ("dawn", "morning") and calm:
        wanted.append(("birdsong", f"time {time}"))
    if "sea" in features:
        wanted.append(("ocean_waves", f"sea: {features['sea']}"))
        if calm and time not in ("night", "dusk"):
            wanted.append(("seagulls", f"sea: {features['sea']}"))
    if "river" in features:
        wanted.append(("stream", f"river: {features['river']}"))
    if "forest" in features:
        wanted.append(("rustling_leaves", f"forest: {features['forest']}"))
    if time == "sunset" and calm:
        wanted.append(("crackling_fire", "time sunset"))
    if time in ("noon", "afternoon") and calm:
        wanted.append(("birdsong", f"time {time}"))
    if weather in ("cloudy", "overcast"):  # a bed under the rest: wind alone masks nothing
        wanted.append(("wind", f"weather {weather}"))
    if not wanted:
        wanted.append(("wind", "nothing louder in the scene"))
    chosen: list[tuple[str, str]] = []
    for kind, reason in wanted:
        if kind not in (k for k, _ in chosen) and len(chosen) < len(GAINS_DB):
            chosen.append((kind, reason))
    return Ambience(
        tuple(k for k, _ in chosen),
        GAINS_DB[: len(chosen)],
        tuple(r for _, r in chosen),
        dict(attributes),
    )


def scene_ambience(scene: SceneReading) -> Ambience:
    """The ambience of a read scene: its attributes and the features its classes cover."""
    return plan_ambience(scene.attributes, features_from_classes(scene.fractions))


def picture_ambience(pipe, pixels: np.ndarray, recipe=None) -> tuple[Ambience, SceneReading]:
    """(ambience, scene) of a picture (HxWx3 uint8) and its recipe if any, read with the encoders
    of the recipe's generator (else the default one)."""
    from studio.scene_reading import SceneReader

    known = {m.name: m for m in pipe.registry.generators()}
    info = known.get(recipe.model) if recipe is not None else None
    scene = SceneReader(pipe, info or pipe.default_generator()).read(pixels, recipe)
    return scene_ambience(scene), scene


def loop_period(seconds: float) -> float:
    """A period that divides `seconds` exactly (so the file itself loops) and is at most MAX_LOOP_SECONDS."""
    return seconds / math.ceil(seconds / MAX_LOOP_SECONDS)


def render_loop(ambience: Ambience, period: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """One period of the mix, float32 mono: its end runs on into its start without a seam."""
    if not 1.0 <= period <= MAX_LOOP_SECONDS:
        raise AmbienceError(f"a loop period must be 1-{MAX_LOOP_SECONDS:.0f} s, got {period:.2f}")
    n = int(round(period * rate))
    fade = min(int(CROSSFADE_SECONDS * rate), n // 2)
    length = min(MAX_SECONDS, (n + fade) / rate + 0.01)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x616D6269])  # "ambi"
    mix = np.zeros(n + fade, np.float64)
    for kind, gain in zip(ambience.kinds, ambience.gains_db, strict=True):
        clip = synth(kind, rng, seconds=length, rate=rate)[: n + fade].astype(np.float64)
        rms = float(np.sqrt(np.mean(clip**2))) or 1.0
        mix += clip / rms * 10 ** (gain / 20)
    t = np.linspace(0.0, 1.0, fade, endpoint=False)
    loop = mix[:n].copy()
    loop[:fade] = mix[:fade] * np.sin(0.5 * np.pi * t) + mix[n : n + fade] * np.cos(0.5 * np.pi * t)
    peak = float(np.max(np.abs(loop))) or 1.0
    return (loop * (0.8 / peak)).astype(np.float32)


def periods(ambience: Ambience, seconds: float, seed: int = 0, rate: int = RATE) -> Iterator[np.ndarray]:
    """`seconds` of ambience as repeats of one loop (one period in memory)."""
    if not math.isfinite(seconds) or not 1.0 <= seconds <= MAX_FILE_SECONDS:
        raise AmbienceError(f"an ambience lasts 1-{MAX_FILE_SECONDS:.0f} seconds, not {seconds}")
    period = loop_period(seconds)
    loop = render_loop(ambience, period, seed, rate)
    for _ in range(round(seconds / period)):
        yield loop


def write_ambience(
    path: Path,
    ambience: Ambience,
    seconds: float,
    seed: int = 0,
    rate: int = RATE,
    progress: Callable[[int, int], bool] | None = None,
) -> bool:
    """Write WAV or FLAC (by the file's ending), 16-bit mono, a period at a time. `progress(done,
    total)` is told after each period; returning False stops and leaves no file (returns False)."""
    import soundfile

    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise AmbienceError(f"{Path(path).name}: sound files end in {' or '.join(FORMATS)}")
    chunks = periods(ambience, seconds, seed, rate)  # checks the length before a file is made
    total = round(seconds / loop_period(seconds))
    first = next(chunks)
    part = Path(path).with_name(Path(path).name + ".part")  # a failed write never leaves half a file
    try:
        with soundfile.SoundFile(part, "w", samplerate=rate, channels=1, subtype="PCM_16", format=fmt) as out:
            for done, chunk in enumerate(itertools.chain([first], chunks), 1):
                out.write(chunk)
                if progress is not None and not progress(done, total):
                    return False
        os.replace(part, path)
        return True
    finally:
        part.unlink(missing_ok=True)
