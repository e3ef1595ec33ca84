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
    from studio.inference.audio_encoder import listen
    from studio.inference.pipeline import Pipeline

    pipe = Pipeline(device=args.device)
    rate = pipe.sound_rate(pipe.default_generator())
    audio = _load_sound(args.sound, rate, max_seconds=MAX_SOUND_SECONDS)
    heard = listen(pipe, pipe.default_generator(), audio.samples)
    print(f"{heard.verdict()}  [{heard.encoder}]")
    width = max(len(name) for name, _, _ in heard.ranked)
    for name, score, attributes in heard.ranked[: max(1, args.top)]:
        implied = ", ".join(f"{k} {v}" for k, v in attributes.items())
        print(f"{score:6.3f}  {name:<{width}}  {implied}")
    return 0


# ---------------------------------------------------------------- eval-sound
def add_eval_sound(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-sound", help="zero-shot listening of installed sound encoders side by side, and their floor"
    )
    p.add_argument("encoders", nargs="*", help="sound encoder names (default: every installed one)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument("-n", type=int, default=240, help="held-out synthesised clips (default 240)")
    p.set_defaults(run=run_eval_sound)


def run_eval_sound(args: argparse.Namespace) -> int:
    import json

    try:
        from studio.eval.sound import sound_metrics
    except ImportError as exc:  # the app bundle leaves studio.eval out
        raise CommandError(f"eval-sound needs a source install ({exc})") from None
    from studio.inference.audio_encoder import AudioEncoder
    from studio.inference.pipeline import Pipeline

    pipe = Pipeline(device="cpu")
    info = pipe.default_generator()
    names = args.encoders or [m.name for m in pipe.registry.models() if m.kind == "audio_encoder"]
    result = {}
    for name in names:
        encoder_info = pipe.registry.get(name)
        if encoder_info.kind != "audio_encoder":
            raise CommandError(f"{name} is a {encoder_info.kind}, not a sound encoder")
        encoder = AudioEncoder(pipe.engine.session(encoder_info.path), encoder_info)
        metrics = sound_metrics(encoder.embed, lambda texts: pipe.encode_text(info, texts), n=args.n)
        result[f"{name} {encoder_info.version}"] = metrics
        print(
            format_listen(
                f"{name} {encoder_info.version}", metrics, encoder_info.manifest.get("listen_floor")
            )
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def format_listen(encoder: str, metrics: dict, shipped_floor: float | None) -> str:
    """One encoder's listening numbers, and the floor it ships beside the one measured now."""
    parts = [f"held-out synthesised {metrics['listen_top1_synthetic_heldout']:.3f}"]
    if "real_recordings" in metrics:
        parts.append(
            f"{metrics['real_recordings']} test recordings {metrics['listen_top1_real_recordings']:.3f}"
        )
    if "listen_top1_real_heldout" in metrics:
        parts.append(
            f"held-out real packages {metrics['listen_top1_real_heldout']:.3f} "
            f"({metrics['real_heldout_clips']} clips; balanced over kinds "
            f"{metrics['listen_top1_real_heldout_balanced']:.3f})"
        )
    else:
        parts.append("held-out real split not fetched (`studio sounds fetch`)")
    lines = [f"{encoder}: top-1 " + ", ".join(parts)]
    floor = metrics.get("listen_floor")
    if floor:
        refused = ", ".join(f"{k} {v:.2f}" for k, v in floor["out_of_world_refused_by_kind"].items())
        right = floor["real_heldout_right_when_placed"]
        lines += [
            f"  floor {floor['value']:.4f} (shipped: {shipped_floor}): keeps "
            f"{floor['real_heldout_correct_kept']:.2f} of correct real placements; places "
            f"{floor['real_heldout_placed']:.2f} of real clips"
            + (f", right {right:.2f} of those" if right else ""),
            f"  refuses {floor['out_of_world_refused']:.2f} of out-of-world sounds ({refused})",
        ]
    return "\n".join(lines)


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
