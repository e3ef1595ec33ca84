"""`studio describe IMAGE` (a caption and the scene it names), `studio eval-describe` (its metrics), and
the match scores `studio history --match` and `studio generate --match` print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from studio.cli.inputs import read_input
from studio.errors import CommandError

if TYPE_CHECKING:
    from studio.describe.node_match import NodeMatch
    from studio.project.store import Node, Project

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
    from studio.describe.match import match_score
    from studio.inference.engine import Engine
    from studio.inference.registry import ModelRegistry
    from studio.pngmeta import carried_prompt

    data = read_input(args.image, "picture")
    picture, notes = picture_from_bytes(data, str(args.image))
    engine = Engine(args.device)
    describer = Describer(ModelRegistry(), engine, model=args.model)
    description = describer.describe([picture], beam=args.beam)[0]
    description.notes[:0] = notes
    notes = description.notes + engine.drain_notices()
    prompt = carried_prompt(data)
    match = match_score(prompt, description.caption) if prompt.strip() else None
    if args.json:
        extra = {"prompt": prompt, "match": match.to_dict()} if match is not None else {}
        print(json.dumps({**description.to_dict(), **extra, "notes": notes, "beam": args.beam}, indent=2))
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
    if match is not None:
        print(f"match: {match.summary()} (its recipe asked for {prompt!r})")
    return 0


def match_project_nodes(project: Project, nodes: Sequence[Node], device: str) -> dict[str, NodeMatch]:
    """Match scores of `nodes` (node id → NodeMatch), describing on stderr what is not kept yet."""
    from studio.describe.describe import Describer
    from studio.describe.node_match import CHUNK, match_nodes
    from studio.inference.engine import Engine
    from studio.inference.registry import ModelRegistry

    engine = Engine(device)
    describer = Describer(ModelRegistry(), engine, segment=False)
    for note in describer.notes:
        print(f"note: {note}", file=sys.stderr)

    def progress(done: int, total: int) -> bool:
        print(f"describing pictures {done + 1}–{min(total, done + CHUNK)} of {total}…", file=sys.stderr)
        return True

    found = match_nodes(describer, project, nodes, progress)
    for note in engine.drain_notices():
        print(f"note: {note}", file=sys.stderr)
    return found


def print_generated_matches(
    pipe, prompt: str, images: list, project: Project | None, nodes: list[Node]
) -> None:
    """`studio generate --match`: what each new picture shows and how well that names the prompt;
    with --project the captions are kept for the app's match scores."""
    from studio.describe.describe import Describer
    from studio.describe.match import match_score
    from studio.describe.node_match import BEAM, keep_captions

    describer = Describer(pipe.registry, pipe.engine, segment=False)
    for note in describer.notes:
        print(f"note: {note}", file=sys.stderr)
    captions = [d.caption for d in describer.describe(images, BEAM, classes=False)]
    for i, caption in enumerate(captions):
        where = f"image {i + 1}" if len(captions) > 1 else "image"
        print(f"{where} shows: {caption}")
        if prompt.strip():
            print(f"  match: {match_score(prompt, caption).summary()}")
    if project is not None:
        keep_captions(project, describer.model, {n.image: c for n, c in zip(nodes, captions, strict=True)})


def match_cell(found: NodeMatch | None) -> str:
    """A fixed-width table cell: "match 2/3", "match 67%" or "match –" (no prompt, no picture)."""
    return f"match {found.match.badge() if found is not None else '–':<4}"


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
