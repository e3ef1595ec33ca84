"""`studio …` commands, all without Qt (the console script `ui.launcher` opens the app for bare `studio`).

The parser is built from one small function per subcommand, so later commands (train, export,
eval, bench, listen) are added by writing an `add_NAME(subparsers)` and listing it in COMMANDS.
Any error becomes one line on stderr and exit code 2: no tracebacks for users.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio import __version__
from studio.cli.bench import add_bench
from studio.cli.describe import add_describe, add_eval_describe
from studio.cli.project import add_project
from studio.cli.sonify import add_sonify
from studio.cli.sound import add_animate, add_eval_sound, add_listen
from studio.cli.sounds import add_sounds
from studio.cli.translate import add_eval_translate, add_translate, add_translate_sheet
from studio.errors import CommandError
from studio.inference.attributes import GROUPS, RECIPE_KEY, describe
from studio.recipe import RecipeError

if TYPE_CHECKING:
    from studio.inference.pipeline import Pipeline
    from studio.project.store import Project

log = logging.getLogger("studio.cli")

EXIT_ERROR = 2
DEVICES = ("auto", "cpu", "cuda")


def _pipeline(device: str) -> Pipeline:
    from studio.inference.pipeline import Pipeline

    return Pipeline(device=device)


def _show_notices(pipe: Pipeline) -> None:
    for notice in pipe.drain_notices():
        print(f"note: {notice}", file=sys.stderr)


def _open_project(folder: Path, create: bool, keep: bool = False) -> Project:
    """`create`: make the folder a project if it is not one. An existing project opens read-only
    unless the command `keep`s something in it; open in the app, it then opens read-only anyway."""
    from studio.project.errors import ProjectLockedError
    from studio.project.store import Project

    try:
        project = Project.open(folder, create=create, readonly=not (create or keep))
    except ProjectLockedError:
        if create or not keep:
            raise
        print("note: the project is open in the app, so nothing is kept in it this time", file=sys.stderr)
        project = Project.open(folder, create=False, readonly=True)
    for line in project.report:
        print(f"note: {line}", file=sys.stderr)
    return project


def _output_paths(output: Path, count: int) -> list[Path]:
    """out.png for one image; out-0.png … out-{K-1}.png for K images."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix or '.png'}") for i in range(count)]


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------- generate
def add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="make images from a prompt (PNG with the recipe embedded)")
    p.add_argument("prompt", help="what to show, e.g. 'a misty lake under snowy mountains at dawn'")
    p.add_argument("--seed", type=int, default=1, help="first seed (default 1); image i uses seed+i")
    p.add_argument("--count", type=_positive_int, default=1, help="number of variations (default 1)")
    p.add_argument("--model", help="generator name (default: the first installed generator)")
    p.add_argument("--size", type=_positive_int, default=256, help="output size in pixels (default 256)")
    p.add_argument("--project", type=Path, help="also commit the images as nodes of this project folder")
    p.add_argument("-o", "--output", type=Path, help="output PNG (default out.png unless --project is given)")
    p.add_argument("--private", action="store_true", help="strip the prompt from the embedded recipe")
    p.add_argument("--device", choices=DEVICES, default="auto", help="compute device (default auto)")
    p.add_argument("--sketch", type=Path, help="semantic sketch PNG in the model's palette colours")
    _add_attribute_options(p)
    p.add_argument(
        "--no-layout",
        action="store_true",
        help="without --sketch, do not start from a layout imagined for the prompt (the layout prior)",
    )
    p.add_argument("--mask", type=Path, help="regenerate only where this PNG is white (needs --base)")
    p.add_argument("--base", type=Path, help="the image a --mask edit changes")
    p.add_argument("--sound", type=Path, help="a sound (WAV/FLAC/OGG) that moves the picture toward it")
    p.add_argument(
        "--closest",
        action="store_true",
        help="with --sound: apply what the closest known sound changes even when the encoder cannot place it",
    )
    p.add_argument(
        "--strength", type=float, help="how far the sound moves the picture, 0..1 (default: its loudness)"
    )
    p.add_argument(
        "--keep",
        action="append",
        choices=("time", "weather", "season", "ground"),
        help="with --sound: leave this part of the picture as it is (repeatable; the app's unticked changes)",
    )
    p.add_argument(
        "--match", action="store_true", help="caption each picture and say how well it shows the prompt"
    )
    p.set_defaults(run=run_generate)


def _add_attribute_options(p: argparse.ArgumentParser) -> None:
    """--time/--weather/--season pin a scene attribute over what the prompt says (generators with
    an attribute input; `studio models` lists which)."""
    for group, values in GROUPS.items():
        p.add_argument(f"--{group}", choices=values, help=f"pin the {group} ({', '.join(values)})")


def run_generate(args: argparse.Namespace) -> int:
    from studio.cli.inputs import recipe_inputs, with_inputs
    from studio.inference.pipeline import MemoryAssets
    from studio.pngmeta import encode_png

    output = args.output if args.output is not None or args.project is not None else Path("out.png")
    pipe = _pipeline(args.device)
    recipes = pipe.recipes_for(
        args.prompt,
        seed=args.seed,
        count=args.count,
        model=args.model,
        size=args.size,
        attributes={g: getattr(args, g) for g in GROUPS},
    )
    project = _open_project(args.project, create=True) if args.project is not None else None
    try:
        assets = project.assets if project is not None else MemoryAssets()
        changes, kind = recipe_inputs(args, pipe, pipe.registry.get(recipes[0].model), assets)
        recipes = [with_inputs(recipe, changes) for recipe in recipes]
        if not args.no_layout and "mask" not in changes:
            recipes = pipe.imagine_layouts(recipes, lambda png: assets.put(png, "png"))
        images = pipe.render(recipes, assets)
        _show_notices(pipe)
        if RECIPE_KEY in recipes[0].extra:  # say what the generator was told, so a miss can be corrected
            print(f"scene: {describe(recipes[0].extra[RECIPE_KEY], recipes[0].prompt)}")
            info = pipe.registry.get(recipes[0].model)
            if info.attribute_wording:
                print(f"the generator reads: {pipe.worded_prompt(info, recipes[0])!r}")
        pngs = [
            encode_png(image, recipe, private=args.private)
            for image, recipe in zip(images, recipes, strict=True)
        ]
        if output is not None:
            for path, png in zip(_output_paths(output, len(pngs)), pngs, strict=True):
                _write(path, png)
                print(path)
        nodes = []
        if project is not None:
            for recipe, png in zip(recipes, pngs, strict=True):
                nodes.append(project.add_node(kind=kind, recipe=recipe, image_png=png))
                print(f"node {nodes[-1].id} seed {recipe.seed}")
        if args.match:
            from studio.cli.describe import print_generated_matches

            print_generated_matches(pipe, args.prompt, images, project, nodes)
    finally:
        if project is not None:
            project.close()
    speed = f"{pipe.last_ms_per_image:.0f} ms/image"
    print(f"{len(images)} image(s) with {recipes[0].model} on {pipe.provider}, {speed}")
    return 0


# ---------------------------------------------------------------- models
def add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list installed models, their status and the provider in use")
    p.add_argument("--device", choices=DEVICES, default="auto", help="compute device to check (default auto)")
    p.set_defaults(run=run_models)


def run_models(args: argparse.Namespace) -> int:
    from studio.inference.engine import Engine
    from studio.inference.registry import ModelRegistry

    registry = ModelRegistry()
    rows = [(m.name, m.kind, m.version, "ok") for m in registry.models()]
    rows += [(*_manifest_summary(p.path), f"problem: {p.message}") for p in registry.problems]
    if rows:
        widths = [max(len(str(r[i])) for r in [("name", "kind", "version", ""), *rows]) for i in range(3)]
        print(f"{'name':<{widths[0]}}  {'kind':<{widths[1]}}  {'version':<{widths[2]}}  status")
        for row in rows:
            print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    else:
        print("no models installed")
    print("folders: " + ", ".join(str(f) for f in registry.folders))
    engine = Engine(args.device)
    generators = registry.generators()
    if generators:  # a real session says which provider really runs, not just which was asked for
        engine.session(generators[0].path)
    reason = (
        f" ({engine.cpu_reason})" if engine.provider == "CPUExecutionProvider" and engine.cpu_reason else ""
    )
    print(f"provider: {engine.provider}{reason}")
    for notice in engine.drain_notices():
        print(f"note: {notice}", file=sys.stderr)
    return 0


def _manifest_summary(path: Path) -> tuple[str, str, str]:
    """Name, kind and version of a model with a problem, as far as its manifest can be read."""
    from studio.inference.manifest import ModelError, read_manifest

    try:
        data = read_manifest(path.with_suffix(".json"))
    except ModelError:
        return path.name, "?", "?"
    name, kind, version = (data.get("name") or path.stem, data.get("kind") or "?", data.get("version") or "?")
    return _cell(name), _cell(kind), _cell(version)


def _cell(value: object, width: int = 24) -> str:
    """A manifest value as a table cell: a hostile one (5,000 digits) must not widen the table."""
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- history
def add_history(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list the history nodes of a project")
    p.add_argument("project", type=Path, help="project folder")
    p.add_argument("--json", action="store_true", help="print JSON (one list) instead of a table")
    p.add_argument(
        "--match",
        action="store_true",
        help="caption each picture and show how well it names what its prompt asked for "
        "(captions are kept in the project, so only new pictures are described)",
    )
    p.add_argument("--device", choices=DEVICES, default="auto", help="device for --match (default auto)")
    p.set_defaults(run=run_history)


def run_history(args: argparse.Namespace) -> int:
    from studio.cli.describe import match_cell, match_project_nodes

    project = _open_project(args.project, create=False, keep=args.match)
    try:
        nodes = project.nodes()
        matches = match_project_nodes(project, nodes, args.device) if args.match else None
    finally:
        project.close()
    if args.json:
        data = [
            {
                "id": n.id,
                "parents": list(n.parents),
                "parent": n.parent,
                "kind": n.kind,
                "created": n.created,
                "starred": n.starred,
                "note": n.note,
                "image": n.image,
                "recipe": n.recipe.to_dict(),
                **({} if matches is None else {"match": _match_json(matches.get(n.id))}),
            }
            for n in nodes
        ]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if not nodes:
        print("no nodes yet")
    for n in nodes:
        created = dt.datetime.fromtimestamp(n.created).strftime("%Y-%m-%d %H:%M:%S")
        star = "*" if n.starred else " "
        prompt = n.recipe.prompt if len(n.recipe.prompt) <= 60 else n.recipe.prompt[:57] + "..."
        match = "" if matches is None else f"{match_cell(matches.get(n.id))}  "
        print(
            f"{star} {n.id}  parent {n.parent or '-':<16}  {n.kind:<10} {created}  "
            f"{n.recipe.model} seed {n.recipe.seed} {n.recipe.size}px  {match}{prompt!r}"
        )
    return 0


def _match_json(found: Any) -> dict | None:
    """A node's match for `studio history --json --match` (None: no prompt, or no picture to read)."""
    if found is None:
        return None
    return {"caption": found.caption, "captioner": found.model, **found.match.to_dict()}


# ---------------------------------------------------------------- render
def add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render", help="re-render a history node from its recipe and compare with the stored image"
    )
    p.add_argument("project", type=Path, help="project folder")
    p.add_argument("node", help="node id (a unique prefix is enough)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output PNG")
    p.add_argument("--device", choices=DEVICES, default="auto", help="compute device (default auto)")
    p.set_defaults(run=run_render)


def _find_node(project: Project, key: str) -> Any:
    matches = [n for n in project.nodes() + project.trash() if n.id.startswith(key)] if key else []
    exact = [n for n in matches if n.id == key]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise CommandError(
            f"there is no node {key!r} in {project.path} (see `studio history {project.path}`)"
        )
    raise CommandError(f"{key!r} matches {len(matches)} nodes; give more of the id")


def run_render(args: argparse.Namespace) -> int:
    from studio.pngmeta import encode_png, read_pixels
    from studio.project.errors import ProjectError

    project = _open_project(args.project, create=False)
    try:
        node = _find_node(project, args.node)
        if node.recipe.extra.get("imported"):
            raise CommandError(
                f"node {node.id} is a picture imported from {node.recipe.extra['imported']!r}: "
                "it was not rendered, so there is no recipe to re-render (its children can be)"
            )
        pipe = _pipeline(args.device)
        (image,) = pipe.render([node.recipe], assets=project.assets)
        _show_notices(pipe)
        png = encode_png(image, node.recipe)
        try:
            stored = read_pixels(project.assets.get(node.image)) if project.assets.has(node.image) else None
            damaged = False
        except ProjectError:  # the stored pixels are a damaged cache; the recipe is the truth
            stored, damaged = None, True
        repaired = damaged and project.assets.restore(node.image, png)
    finally:
        project.close()
    _write(args.output, png)
    print(args.output)
    if damaged:
        fixed = "; the project's copy was repaired" if repaired else ""
        print(f"the stored image of node {node.id} was damaged; re-rendered from its recipe{fixed}")
    elif stored is None:
        print(f"the stored image of node {node.id} is missing; cannot compare")
    elif stored.shape == image.shape and np.array_equal(stored, image):
        print(f"pixels identical to the stored image of node {node.id} (on {pipe.provider})")
    else:
        differ = "different size" if stored.shape != image.shape else _difference(stored, image)
        print(f"pixels differ from the stored image of node {node.id}: {differ} (on {pipe.provider})")
    return 0


def _difference(a: np.ndarray, b: np.ndarray) -> str:
    delta = np.abs(a.astype(np.int16) - b.astype(np.int16))
    changed = int(np.count_nonzero(delta.max(axis=-1)))
    return f"{changed} of {a.shape[0] * a.shape[1]} pixels, largest difference {int(delta.max())}"


# ---------------------------------------------------------------- recipe
def add_recipe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipe", help="print the recipe embedded in a PNG")
    p.add_argument("image", type=Path, help="PNG exported by the studio")
    p.set_defaults(run=run_recipe)


def run_recipe(args: argparse.Namespace) -> int:
    from studio.pngmeta import read_recipe

    print(json.dumps(read_recipe(args.image).to_dict(), indent=2, ensure_ascii=False, sort_keys=True))
    return 0


# ---------------------------------------------------------------- parser and main
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _train_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    from studio.cli.train import add_eval, add_export, add_export_text, add_fp16, add_sheet, add_train

    return [add_train, add_export, add_export_text, add_fp16, add_eval, add_sheet]


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_generate,
    add_models,
    add_history,
    add_render,
    add_recipe,
    add_listen,
    add_eval_sound,
    add_animate,
    add_sounds,
    add_sonify,
    add_bench,
    add_project,
    add_describe,
    add_eval_describe,
    add_translate,
    add_eval_translate,
    add_translate_sheet,
    *_train_commands(),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Synesthesia Studio. Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks) to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def _error_types() -> tuple[type[BaseException], ...]:
    """The errors that mean "your input or setup is wrong", not "the program is broken"."""
    from PIL.Image import DecompressionBombError

    from studio.audio.io import AudioError
    from studio.image_input import ImageInputError
    from studio.inference.compose import MaskError
    from studio.inference.manifest import ModelError
    from studio.inference.pipeline import PipelineError
    from studio.limits import MemoryLimitError

    types: list[type[BaseException]] = [
        CommandError,
        ModelError,
        PipelineError,
        RecipeError,
        OSError,
        AudioError,
        MaskError,
        ImageInputError,
        MemoryLimitError,
        DecompressionBombError,
    ]
    try:
        from studio.project.errors import ProjectError

        types.append(ProjectError)
    except ImportError:
        pass
    return tuple(types)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `studio history DIR | head`: the reader has all it wants
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open so the exit flush does not fail
        return 0
    except MemoryError:
        log.debug("out of memory", exc_info=True)
        print("studio: error: this machine ran out of memory; try a smaller size or count", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        expected = isinstance(exc, _error_types())
        log.debug("command failed", exc_info=True)
        if args.verbose:
            logging.getLogger("studio").exception("command failed")
        prefix = "error" if expected else f"unexpected error ({type(exc).__name__})"
        print(f"studio: {prefix}: {exc}", file=sys.stderr)
        return EXIT_ERROR
