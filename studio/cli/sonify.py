"""`studio sonify IMAGE -o out.wav`: hear a picture — an ambience loop of the scene it shows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli.inputs import read_input
from studio.errors import CommandError


def add_sonify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sonify", help="an ambience loop (WAV/FLAC) for a picture: rain for rain, owls at night"
    )
    p.add_argument(
        "image", type=Path, help="PNG or JPEG; a studio PNG's recipe says what it was made to show"
    )
    p.add_argument("-o", "--output", type=Path, default=Path("ambience.wav"), help=".wav or .flac")
    p.add_argument(
        "--seconds", type=float, default=30.0, help="length; the file loops seamlessly (default 30)"
    )
    p.add_argument("--seed", type=int, default=0, help="which take of the sounds (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="compute device")
    p.set_defaults(run=run_sonify)


def run_sonify(args: argparse.Namespace) -> int:
    from studio.ambience import AmbienceError, picture_ambience, write_ambience
    from studio.image_input import ImageInputError, picture_rgb
    from studio.inference.pipeline import Pipeline
    from studio.pngmeta import read_recipe
    from studio.recipe import RecipeError

    data = read_input(args.image, "picture")
    try:  # CMYK, 16-bit, transparent and animated pictures are read as describe reads them
        pixels, notes = picture_rgb(data, f"the picture {args.image.name}", "hearing")
    except ImageInputError as exc:
        raise CommandError(str(exc)) from exc
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        recipe = read_recipe(data)
    except (RecipeError, ValueError, OSError):
        recipe = None
    pipe = Pipeline(device=args.device)
    ambience, scene = picture_ambience(pipe, pixels, recipe)
    try:
        write_ambience(args.output, ambience, args.seconds, seed=args.seed)
    except AmbienceError as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(f"{args.output}: {exc.strerror or exc}") from exc
    read = ", ".join(f"{g} {v} ({scene.sources.get(g, '?')})" for g, v in scene.attributes.items() if v)
    print(f"scene: {read or 'nothing certain'}")
    print(f"sounds: {ambience.describe()}")
    print(f"{args.output} ({args.seconds:g} s, loops seamlessly)")
    return 0
