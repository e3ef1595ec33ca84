"""`studio translate IMAGE --to night` and `studio eval-translate MODEL`; the translator's train/export hooks.

`studio train --config configs/translate_day_night.json [--data-a DIR --data-b DIR]` and `studio
export runs/day_night/checkpoint.pt -o exported_models/day_night` reach `train_translator_command`
and `export_translator_command` from `studio.cli.train`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from studio.cli.inputs import read_input
from studio.errors import CommandError

DEVICES = ("auto", "cpu", "cuda")
COMMON_TARGETS = "night, day, winter, summer"


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 16 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"must be from 16 to 4096, not {value}")
    return value


def add_translate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate", help="turn a picture's day into night, summer into winter, … (PNG with its recipe)"
    )
    p.add_argument("image", type=Path, help="PNG, JPEG, WebP, GIF, … (at least 16x16 px; its centre square)")
    p.add_argument("--to", required=True, metavar="DOMAIN", help=f"what to make of it: {COMMON_TARGETS}, …")
    p.add_argument("--seed", type=int, default=1, help="style seed (default 1): other seeds, other nights")
    p.add_argument("--model", help="translator name (default: the largest, newest that goes --to)")
    p.add_argument("--size", type=_size, default=256, help="output size in pixels (default 256)")
    p.add_argument("-o", "--output", type=Path, help="output PNG (default out.png unless --project is given)")
    p.add_argument(
        "--project", type=Path, help="also keep the source and the result as a node of this project"
    )
    p.add_argument("--device", choices=DEVICES, default="auto", help="compute device (default auto)")
    p.set_defaults(run=run_translate)


def _source_ext(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    return ext if ext.isalnum() and len(ext) <= 8 else "bin"


def run_translate(args: argparse.Namespace) -> int:
    from studio.cli import _open_project, _pipeline, _show_notices, _write
    from studio.inference.pipeline import MemoryAssets
    from studio.pngmeta import encode_png
    from studio.recipe import RecipeError
    from studio.translate.runtime import read_picture, translation_recipe, translator_for

    data = read_input(args.image, "picture")
    _, notes = read_picture(data, str(args.image))  # refuses bad pictures before any model loads
    output = args.output if args.output is not None or args.project is not None else Path("out.png")
    pipe = _pipeline(args.device)
    info, direction = translator_for(pipe.registry, args.to, args.model)
    try:
        recipe = translation_recipe(info, direction, data, args.seed, args.size)
    except RecipeError as exc:
        raise CommandError(str(exc)) from exc
    project = _open_project(args.project, create=True) if args.project is not None else None
    try:
        assets = project.assets if project is not None else MemoryAssets()
        assets.put(data, _source_ext(args.image))
        (image,) = pipe.render([recipe], assets)
        png = encode_png(image, recipe)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        _show_notices(pipe)
        if output is not None:
            _write(output, png)
            print(output)
        if project is not None:
            node = project.add_node(kind="translate", recipe=recipe, image_png=png)
            print(f"node {node.id} seed {recipe.seed}")
    finally:
        if project is not None:
            project.close()
    print(
        f"{direction.source} → {direction.target} with {info.name} {info.version} (seed {args.seed}) on "
        f"{pipe.provider}, {pipe.last_ms_per_image:.0f} ms"
    )
    return 0


def add_eval_translate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-translate", help="score a translator on held-out renders (target reached, layout kept, KID/FID)"
    )
    p.add_argument("model", help="translator name, e.g. day_night")
    p.add_argument("-n", type=int, default=64, help="held-out renders per direction (default 64)")
    p.add_argument(
        "--judge-images", type=int, default=2000, help="renders the judge trains on (default 2000)"
    )
    p.add_argument("--judge-steps", type=int, default=400, help="judge training steps (default 400)")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    p.add_argument(
        "--record",
        action="store_true",
        help="store the numbers under metrics.heldout in the model's manifest",
    )
    p.set_defaults(run=run_eval_translate)


def add_translate_sheet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate-sheet", help="contact sheet: held-out renders and your pictures through translators"
    )
    p.add_argument("models", nargs="+", help="translators between the same two domains, e.g. day_night")
    p.add_argument("-o", "--output", type=Path, required=True, help="output JPEG")
    p.add_argument(
        "--picture", type=Path, action="append", default=[], help="a picture from outside the world (repeat)"
    )
    p.set_defaults(run=run_translate_sheet)


def run_translate_sheet(args: argparse.Namespace) -> int:
    try:
        from studio.eval.translate_sheet import translator_sheet
    except ImportError as exc:  # the app bundle leaves studio.eval out
        raise CommandError(f"translate-sheet needs a source install ({exc})") from None
    from studio.image_input import ImageInputError
    from studio.inference.pipeline import Pipeline

    try:
        data = translator_sheet(Pipeline(device="cpu"), args.models, args.picture)
    except (ImageInputError, OSError) as exc:
        raise CommandError(str(exc)) from None
    args.output.write_bytes(data)
    print(args.output)
    return 0


def run_eval_translate(args: argparse.Namespace) -> int:
    try:
        from studio.eval.translate import evaluate_translator, format_table
    except ImportError as exc:  # the app bundle leaves studio.eval (and torch) out
        raise CommandError(f"eval-translate needs a source install with torch ({exc})") from None
    from studio.inference.pipeline import Pipeline

    if args.n < 2 or args.judge_images < 16 or args.judge_steps < 1:
        raise CommandError("-n needs at least 2, --judge-images at least 16 and --judge-steps at least 1")
    pipe = Pipeline(device="cpu")
    result = evaluate_translator(
        pipe, args.model, n=args.n, judge_images=args.judge_images, judge_steps=args.judge_steps
    )
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.record:
        path = pipe.registry.get(args.model).manifest_path
        manifest = json.loads(path.read_text())
        manifest.setdefault("metrics", {})["heldout"] = result
        path.write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"recorded in {path}")
    return 0


def train_translator_command(args: argparse.Namespace, progress) -> int:
    """`studio train` with a translator config (kind "translator"); --data-a/--data-b are its folders."""
    from studio.training.run import stop_on_terminate
    from studio.training.translator import load_config, train_translator
    from studio.training.translator_data import TranslateDataError

    if getattr(args, "data", None) is not None:
        raise CommandError(
            "a translator trains on two folders: give --data-a DIR and --data-b DIR, not --data"
        )
    if getattr(args, "init", None) is not None:
        raise CommandError("--init starts a generator; a translator starts fresh")
    for flag, folder in (("--data-a", args.data_a), ("--data-b", args.data_b)):
        if folder is not None and not folder.is_dir():
            raise CommandError(f"{flag} {folder} is not a folder")
    try:
        cfg = load_config(args.config, args.data_a, args.data_b)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"bad config {args.config}: {exc}") from exc
    if args.steps is not None:
        cfg.steps = args.steps
    out = args.out or Path("runs") / cfg.name
    data_log = logging.getLogger("studio.training.translator_data")
    if data_log.getEffectiveLevel() > logging.WARNING:  # skipped files are said even without -v
        data_log.setLevel(logging.WARNING)
    try:
        result = train_translator(
            cfg, out, resume=args.resume, progress=progress, should_stop=stop_on_terminate()
        )
    except TranslateDataError as exc:
        raise CommandError(str(exc)) from exc
    print(json.dumps(result))
    return 0


def export_translator_command(state: dict, args: argparse.Namespace) -> dict:
    from studio.export.translator_export import export_translator

    return export_translator(state, args.output, license_=args.license)
