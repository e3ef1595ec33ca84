"""`studio project export|import`: move a whole project between computers as one .zip file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.errors import CommandError


def add_project(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="export a project folder as one .zip file, or import such a file")
    actions = p.add_subparsers(dest="project_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write a project (history, images, notes) to a .zip file")
    export.add_argument("folder", type=Path, help="project folder")
    export.add_argument("-o", "--output", type=Path, help="zip file to write (default FOLDER_NAME.zip)")
    export.set_defaults(run=run_project_export)
    imp = actions.add_parser("import", help="unpack a project .zip into a new folder")
    imp.add_argument("zip", type=Path, help="zip file written by `studio project export`")
    imp.add_argument("folder", type=Path, help="new (or empty) folder for the project")
    imp.set_defaults(run=run_project_import)


class _Progress:
    """A self-rewriting `done/total` on stderr, only when a person is watching."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.live = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.live:
            end = "\n" if done == total else ""
            print(f"\r{self.verb} {done}/{total} files", end=end, file=sys.stderr, flush=True)


def run_project_export(args: argparse.Namespace) -> int:
    from studio.project.archive import export_project_zip
    from studio.project.errors import ProjectError
    from studio.project.store import Project

    output = args.output if args.output is not None else Path(f"{args.folder.resolve().name}.zip")
    try:
        # export never changes the project, so it opens it for reading: no lock, works beside the app
        project = Project.open(args.folder, create=False, readonly=True)
    except ProjectError as exc:
        raise CommandError(str(exc)) from exc
    try:
        for line in project.report:
            print(f"note: {line}", file=sys.stderr)
        notes: list[str] = []
        path = export_project_zip(project, output, progress=_Progress("exporting"), notes=notes)
        count = len(project.nodes())
        for line in notes:
            print(f"note: {line}", file=sys.stderr)
    except ProjectError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        project.close()
    print(f"exported {count} node(s) to {path} ({path.stat().st_size / (1 << 20):.1f} MB)")
    return 0


def run_project_import(args: argparse.Namespace) -> int:
    from studio.project.archive import import_project_zip
    from studio.project.errors import ProjectError

    try:
        project = import_project_zip(args.zip, args.folder, progress=_Progress("importing"))
    except ProjectError as exc:
        raise CommandError(str(exc)) from exc
    try:
        for line in project.report:
            print(f"note: {line}", file=sys.stderr)
        count = len(project.nodes())
    finally:
        project.close()
    print(f"imported {count} node(s) into {project.path}")
    return 0
