"""`studio sounds fetch` (build the real-recording set from Debian packages) and `studio sounds list`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.errors import CommandError


def add_sounds(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sounds", help="real environmental recordings from Debian packages (training and held-out sets)"
    )
    actions = p.add_subparsers(dest="sounds_command", metavar="ACTION")
    fetch = actions.add_parser(
        "fetch", help="download the listed packages, cut and convert their clips to 16 kHz WAV, verify"
    )
    fetch.add_argument(
        "--out",
        type=Path,
        help="where to write train/ and heldout/ (default: real_sounds in the data folder)",
    )
    fetch.add_argument(
        "--cache", type=Path, help="where downloaded .deb files are kept (default: data folder)"
    )
    fetch.add_argument("--debs", type=Path, help="use the .deb files in this folder instead of downloading")
    fetch.add_argument(
        "--package", action="append", help="only this package (repeatable; default: every listed package)"
    )
    fetch.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    fetch.add_argument("--apt-get", default="apt-get", help=argparse.SUPPRESS)
    fetch.set_defaults(run=run_fetch)
    listing = actions.add_parser("list", help="the packages and clip counts the manifest lists (no download)")
    listing.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    listing.set_defaults(run=run_list)
    p.set_defaults(run=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _table(counts: dict) -> list[str]:
    kinds = sorted(set().union(*(c.keys() for c in counts.values())))
    splits = list(counts)
    width = max([len(k) for k in kinds] + [5])
    lines = [f"{'kind':<{width}}" + "".join(f"{s:>9}" for s in splits)]
    for kind in kinds:
        lines.append(f"{kind:<{width}}" + "".join(f"{counts[s].get(kind, 0):>9}" for s in splits))
    lines.append(f"{'total':<{width}}" + "".join(f"{sum(counts[s].values()):>9}" for s in splits))
    return lines


def run_fetch(args: argparse.Namespace) -> int:
    from studio.audio.real_set import MANIFEST, RealSetError, default_dir, fetch

    out = args.out or default_dir()
    if args.debs is not None and not args.debs.is_dir():
        raise CommandError(f"--debs {args.debs} is not a folder")
    try:
        counts = fetch(
            out,
            cache=args.cache,
            debs=args.debs,
            manifest=args.manifest or MANIFEST,
            apt_get=args.apt_get,
            report=lambda line: print(line, file=sys.stderr),
            packages=args.package,
        )
    except RealSetError as exc:
        raise CommandError(str(exc)) from exc
    print(f"{out}: clips per kind and split (all verified)")
    print("\n".join(_table(counts)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from studio.audio.real_set import MANIFEST, RealSetError, load_manifest

    try:
        real = load_manifest(args.manifest or MANIFEST)
    except RealSetError as exc:
        raise CommandError(str(exc)) from exc
    for split in ("train", "heldout"):
        names = ", ".join(f"{n} {real.packages[n].version}" for n in real.packages_in(split))
        print(f"{split}: {names}")
    print("\n".join(_table(real.counts())))
    return 0
