"""Export a project as one .zip file: a consistent snapshot that its own import accepts.

The zip holds `archive.json` (format name and version), `project.sqlite` (a compacted
backup-API copy), `nodes/*.json` (the journal) and `assets/ab/<sha256>.<ext>`. Every asset is
checked against its name while it is copied: one damaged file would make the whole zip
unimportable, so damaged ones are left out and named (an image's recipe renders it again).
Journal files are written from the snapshot's rows, so a damaged one is repaired in the zip,
and on disk too when the project is open for writing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from studio import __version__
from studio.project.fsio import fsync_dir
from studio.project.journal import Journal, JournalError, journal_bytes
from studio.project.leftovers import remove_stale, work_name
from studio.project.node import NODE_ID_RE
from studio.project.recovery import DB_NAME
from studio.project.store import Project
from studio.project.zip_limits import ArchiveError

log = logging.getLogger(__name__)

ARCHIVE_FORMAT = "synesthesia-studio-project"
ARCHIVE_VERSION = 1
MANIFEST_NAME = "archive.json"
ASSET_RE = re.compile(r"^assets/([0-9a-f]{2})/([0-9a-f]{64})\.[a-z0-9]{1,10}$")
_STORED_EXTS = (".png",)  # already compressed: deflating again only costs time
_CHUNK = 1 << 20
_IDS_SHOWN = 5

Progress = Callable[[int, int], None]


def journal_name_ok(name: str) -> bool:
    stem, dot, ext = name.partition(".")
    return bool(NODE_ID_RE.match(stem)) and dot == "." and ext in ("json", "json.damaged")


def export_project_zip(
    project: Project, target: Path, progress: Progress | None = None, notes: list[str] | None = None
) -> Path:
    """Write `project` to the zip file `target` (replaced atomically) and return its path.

    What was damaged and left out or repaired is appended to `notes` as sentences for the user.
    """
    target = Path(target).expanduser().absolute()
    if target.is_dir():
        raise ArchiveError(f"{target} is a folder; give the name of the .zip file to write")
    if target.is_relative_to(project.path):
        raise ArchiveError(f"cannot write the export {target} inside the project folder itself")
    found: list[str] = []
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target.parent)
        work = target.parent / work_name(target.name, "exporting")
        work.mkdir()
        try:
            journal = _snapshot(project, work / DB_NAME, found)
            assets = _asset_files(project.path / "assets")
            partial = work / target.name
            _write_zip(partial, work / DB_NAME, journal, assets, project, progress, found)
            os.replace(partial, target)
            fsync_dir(target.parent)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except OSError as exc:
        raise ArchiveError(f"could not write {target}: {exc.strerror or exc}") from exc
    for line in found:
        log.warning("export of %s: %s", project.path, line)
    if notes is not None:
        notes.extend(found)
    log.info("exported %s (%d nodes, %d assets) to %s", project.path, len(journal), len(assets), target)
    return target


def _snapshot(project: Project, dest: Path, notes: list[str]) -> dict[str, bytes]:
    """Copy the database and build the journal while no node can be committed, so they agree.

    Assets need no lock: they are immutable and written before the row that names them, so
    listing them afterwards finds a superset of what the snapshot uses.
    """
    with project._mutex:  # every commit holds it for the row and journal write
        conn = project._require_conn()
        copy = sqlite3.connect(dest)
        try:
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            copy.execute("VACUUM")  # no free pages: they compress like a zip bomb
        except sqlite3.Error as exc:
            raise ArchiveError(f"could not copy the database of {project.path}: {exc}") from exc
        finally:
            copy.close()
        return _journal_entries(project, notes)


def _journal_entries(project: Project, notes: list[str]) -> dict[str, bytes]:
    """Zip name → bytes: each known node's record from the database, other files as they are."""
    entries: dict[str, bytes] = {}
    trashed = {node.id for node in project.trash()}
    known = {node.id: node for node in project.nodes() + project.trash()}
    for node_id, node in known.items():
        entries[f"nodes/{node_id}.json"] = journal_bytes(node, node_id in trashed)
    folder = project.path / "nodes"
    damaged: list[str] = []
    for name in sorted(os.listdir(folder)) if folder.is_dir() else []:
        path = folder / name
        if not journal_name_ok(name) or not path.is_file() or path.is_symlink():
            continue
        node_id = name.removesuffix(".json")
        if node_id not in known:
            entries[f"nodes/{name}"] = path.read_bytes()  # damaged or newer: kept for inspection
        elif path.read_bytes() != entries[f"nodes/{name}"] and _damaged(project, node_id):
            damaged.append(node_id)
    if damaged:
        notes.append(
            f"{len(damaged)} journal file(s) were damaged; the export holds the records from the "
            f"database instead: {_ids_text(damaged)}."
        )
        if not project.readonly:
            project.repair_journal(damaged)
    return entries


def _damaged(project: Project, node_id: str) -> bool:
    try:
        Journal(project.path / "nodes").read(node_id)
    except JournalError as exc:
        return exc.damaged
    return False


def _asset_files(root: Path) -> list[tuple[str, Path, str]]:
    """(archive name, file, sha256) of every asset, sorted so exports are reproducible."""
    found: list[tuple[str, Path, str]] = []
    if not root.is_dir():
        return found
    for shard in sorted(root.iterdir()):
        if not shard.is_dir() or shard.is_symlink():
            continue
        for path in sorted(shard.iterdir()):
            name = f"assets/{shard.name}/{path.name}"
            match = ASSET_RE.match(name)
            if match and path.is_file() and not path.is_symlink():
                found.append((name, path, match.group(2)))
    return found


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_zip(
    path: Path,
    snapshot: Path,
    journal: dict[str, bytes],
    assets: list[tuple[str, Path, str]],
    project: Project,
    progress: Progress | None,
    notes: list[str],
) -> None:
    total = 2 + len(journal) + len(assets)
    manifest = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "app_version": __version__,
        "created": time.time(),
        "project_name": project.path.name,
        "journal_files": len(journal),
        "assets": len(assets),
    }
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    damaged: list[str] = []
    with zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        zf.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False))
        step()
        zf.write(snapshot, DB_NAME)
        step()
        for name, data in sorted(journal.items()):
            zf.writestr(name, data)
            step()
        for name, file, sha in assets:
            if _sha256_file(file) != sha:
                damaged.append(sha)
            else:
                method = zipfile.ZIP_STORED if name.endswith(_STORED_EXTS) else zipfile.ZIP_DEFLATED
                zf.write(file, name, compress_type=method)
            step()
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    notes.extend(_damage_notes(project, damaged))


def _damage_notes(project: Project, damaged: list[str]) -> list[str]:
    """One sentence per damaged asset: what uses it, and whether a recipe can make it again."""
    lines: list[str] = []
    nodes = project.nodes() + project.trash()
    for sha in damaged:
        images = [n.id for n in nodes if n.image == sha]
        inputs = [n.id for n in nodes if sha in (n.recipe.sketch, n.recipe.mask, n.recipe.sound)]
        line = f"The file {sha[:12]}… is damaged (its content does not match its name) and was left out"
        if images:
            line += f"; it is the image of {_ids_text(images)}, which its recipe renders again"
        if inputs:
            line += f"; {_ids_text(inputs)} lose the sketch, mask or sound it held"
        lines.append(line + ".")
    return lines


def _ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:_IDS_SHOWN])
    return shown + (f" and {len(ids) - _IDS_SHOWN} more" if len(ids) > _IDS_SHOWN else "")
