"""Sound commands: `studio listen` (zero-shot recognition) and `studio animate` (sound-driven video)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.errors import CommandError


def _load_sound(path: Path, rate: int, max_seconds: float | None):
    from studio.audio.io import AudioError, read_audio

    try:
        audio = read_audio(path, rate=rate, max_seconds=max_seconds)
    except AudioError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    for warning in audio.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return audio


# ---------------------------------------------------------------- listen
def add_listen(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="what a sound is, as the sound encoder hears it (best first)")
    p.add_argument("sound", type=Path, help="WAV/FLAC/OGG file")
    p.add_argument("--top", type=int, default=5, help="how many answers to print (default 5)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="compute device")
    p.set_defaults(run=run_listen)


def run_listen(args: argparse.Namespace) -> int:
    from studio.audio.io import MAX_SOUND_SECONDS
    from studio.inference.audio_encoder import rank_labels
    from studio.inference.pipeline import Pipeline

    pipe = Pipeline(device=args.device)
    rate = pipe.sound_rate(pipe.default_generator())
    audio = _load_sound(args.sound, rate, max_seconds=MAX_SOUND_SECONDS)
    scores = rank_labels(pipe, pipe.default_generator(), audio.samples)
    width = max(len(name) for name, _, _ in scores)
    for name, score, attributes in scores[: max(1, args.top)]:
        implied = ", ".join(f"{k} {v}" for k, v in attributes.items())
        print(f"{score:6.3f}  {name:<{width}}  {implied}")
    return 0


# ---------------------------------------------------------------- animate
def add_animate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="a GIF or MP4 whose frames follow a sound over time")
    p.add_argument("prompt", help="the picture to animate, e.g. 'a lake under mountains at noon'")
    p.add_argument(
        "--sound", type=Path, help="WAV/FLAC/OGG that drives the frames (default: the picture's own ambience)"
    )
    p.add_argument(
        "--seconds", type=float, default=8.0, help="length without --sound: the ambience's (default 8)"
    )
    p.add_argument(
        "-o", "--output", type=Path, default=Path("animation.mp4"), help=".mp4 (with sound) or .gif"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the picture (default 1)")
    p.add_argument("--size", type=int, default=256, help="frame size in pixels (default 256)")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second (default 12)")
    p.add_argument("--strength", type=float, default=0.8, help="edit strength at full loudness (default 0.8)")
    p.add_argument(
        "--steady", action="store_true", help="same strength throughout instead of following loudness"
    )
    p.add_argument("--model", help="generator name (default: the first installed generator)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="compute device")
    p.set_defaults(run=run_animate)


def run_animate(args: argparse.Namespace) -> int:
    import tempfile

    from studio.audio.io import write_wav
    from studio.inference.animation import animation_frames, frame_count, require_gif_memory, write_animation
    from studio.inference.pipeline import Pipeline

    if not 1.0 <= args.fps <= 60.0:
        raise CommandError("--fps must be from 1 to 60")
    pipe = Pipeline(device=args.device)
    recipe = pipe.recipes_for(args.prompt, seed=args.seed, count=1, model=args.model, size=args.size)[0]
    rate = pipe.sound_rate(pipe.registry.get(recipe.model))
    samples = (
        _load_sound(args.sound, rate, 120.0).samples if args.sound else _ambience(pipe, recipe, args, rate)
    )
    count = frame_count(len(samples), rate, args.fps)
    if args.output.suffix.lower() == ".gif":
        require_gif_memory(count, args.size)

    def report(done: int, total: int) -> bool:
        print(f"\rframe {done}/{total}", end="", file=sys.stderr, flush=True)
        return True

    frames = animation_frames(
        pipe,
        recipe,
        samples,
        fps=args.fps,
        strength=args.strength,
        follow_loudness=not args.steady,
        progress=report,
    )
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "sound.wav"
        write_wav(wav, samples, rate)
        write_animation(frames, args.output, args.fps, wav)  # renders each frame as the writer takes it
    print(file=sys.stderr)
    print(f"{args.output} ({count} frames at {args.fps:g} fps, {pipe.provider})")
    return 0


def _ambience(pipe, recipe, args: argparse.Namespace, rate: int):
    """No sound given: the picture's own ambience drives it (`studio sonify` of its first frame)."""
    import numpy as np

    from studio.ambience import AmbienceError, periods, picture_ambience

    if not 1.0 <= args.seconds <= 120.0:
        raise CommandError("--seconds must be from 1 to 120")
    ambience, _scene = picture_ambience(pipe, pipe.render([recipe], preview=True)[0], recipe)
    print(f"sound: {ambience.describe()}", file=sys.stderr)
    try:
        return np.concatenate(list(periods(ambience, args.seconds, seed=recipe.seed, rate=rate)))
    except AmbienceError as exc:
        raise CommandError(str(exc)) from exc
