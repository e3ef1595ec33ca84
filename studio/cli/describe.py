"""`studio describe IMAGE` (a caption and the scene it names) and `studio eval-describe` (its metrics)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli.inputs import read_input
from studio.errors import CommandError

DEVICES = ("auto", "cpu", "cuda")


def _beam(text: str) -> int:
    from studio.describe.captioner import MAX_BEAM

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_BEAM:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_BEAM}, not {value}")
    return value


def add_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="caption a picture and say the time, weather and season it shows")
    p.add_argument("image", type=Path, help="PNG, JPEG, WebP, GIF, … (any size of at least 8x8 px)")
    p.add_argument("--beam", type=_beam, default=3, help="beam width (1 = greedy; default 3)")
    p.add_argument("--model", help="captioner name (default: the newest installed)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--device", choices=DEVICES, default="auto", help="compute device (default auto)")
    p.set_defaults(run=run_describe)


def run_describe(args: argparse.Namespace) -> int:
    from studio.describe.describe import Describer, picture_from_bytes
    from studio.inference.engine import Engine
    from studio.inference.registry import ModelRegistry

    data = read_input(args.image, "picture")
    picture, notes = picture_from_bytes(data, str(args.image))
    engine = Engine(args.device)
    describer = Describer(ModelRegistry(), engine, model=args.model)
    description = describer.describe([picture], beam=args.beam)[0]
    description.notes[:0] = notes
    notes = description.notes + engine.drain_notices()
    if args.json:
        print(json.dumps({**description.to_dict(), "notes": notes, "beam": args.beam}, indent=2))
        return 0
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(description.caption)
    print(f"scene: {description.scene_line()}")
    if description.features:
        print(f"features: {', '.join(description.features)}")
    if description.classes:
        print("classes: " + " · ".join(f"{n} {s:.0%}" for n, s in description.classes))
    how = f"beam {args.beam}" if description.method == "captioner" and args.beam > 1 else "greedy"
    if description.method == "retrieval":
        how = f"retrieval, cosine {description.score:.3f}"
    print(f"model: {description.model} ({how})")
    return 0


def add_eval_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-describe",
        help="score captions on held-out renders (BLEU-4, CIDEr-D, attributes) and generated pictures",
    )
    p.add_argument("model", nargs="?", help="captioner name (default: the newest; retrieval baseline always)")
    p.add_argument("-n", type=int, default=200, help="held-out renders (default 200)")
    p.add_argument("--beam", type=_beam, default=3, help="beam width of the beam row (default 3)")
    p.add_argument("--generated", type=int, default=32, help="generated pictures to match (0: none)")
    p.add_argument("--generator", help="generator for those (default: the app's default)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.set_defaults(run=run_eval_describe)


def run_eval_describe(args: argparse.Namespace) -> int:
    try:
        from studio.eval.describe import evaluate_describe, format_table
    except ImportError as exc:  # the app bundle leaves studio.eval out
        raise CommandError(f"eval-describe needs a source install ({exc})") from None
    from studio.inference.pipeline import Pipeline

    if args.n < 2 or args.generated < 0:
        raise CommandError("-n needs at least 2 renders (CIDEr's IDF) and --generated must be ≥ 0")
    result = evaluate_describe(
        Pipeline(device="cpu"),
        args.model,
        n=args.n,
        beam=args.beam,
        generated=args.generated,
        generator=args.generator,
    )
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
