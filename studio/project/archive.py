"""A project as one .zip file: export a consistent snapshot, import it back safely.

The zip holds `archive.json` (format name and version), `project.sqlite` (a backup-API copy),
`nodes/*.json` (the journal) and `assets/ab/<sha256>.<ext>`. Import treats the zip as hostile:
every member name is checked against that layout (no traversal, links or stray files), sizes
are capped both as declared and as really read (zip bombs), assets must match their names, and
everything lands in a temporary folder beside the target that is renamed into place only once
the project in it has opened cleanly, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import lzma
except ImportError:  # Python built without lzma: zipfile then refuses such members itself
    lzma = None  # type: ignore[assignment]

from studio import __version__
from studio.project.errors import ProjectError
from studio.project.fsio import TEMP_PREFIX, fsync_dir
from studio.project.node import NODE_ID_RE
from studio.project.recovery import DB_NAME, SQLITE_MAGIC
from studio.project.store import Project

log = logging.getLogger(__name__)

ARCHIVE_FORMAT = "synesthesia-studio-project"
ARCHIVE_VERSION = 1
MANIFEST_NAME = "archive.json"
MAX_MANIFEST_BYTES = 64 << 10
_CHUNK = 1 << 20
_STORED_EXTS = (".png",)  # already compressed: deflating again only costs time
_ASSET_RE = re.compile(r"^assets/([0-9a-f]{2})/([0-9a-f]{64})\.[a-z0-9]{1,10}$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# what reading a damaged or hostile member can raise (bz2 reports OSError, lzma its own error)
_READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    EOFError,
    ValueError,
    NotImplementedError,
    OSError,
    zlib.error,
    *((lzma.LZMAError,) if lzma is not None else ()),
)
_DIR_RE = re.compile(r"^(nodes|assets|assets/[0-9a-f]{2})/$")

Progress = Callable[[int, int], None]


class ArchiveError(ProjectError):
    """A project zip could not be written or was refused on import; the message says why."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps that keep a hostile zip from filling the disk or memory."""

    max_member_bytes: int = 4 << 30
    max_total_bytes: int = 64 << 30
    max_members: int = 1_000_000
    max_ratio: float = 200.0  # uncompressed/compressed; real projects (PNG, JSON, SQLite) stay far below
    ratio_floor_bytes: int = 1 << 20  # small members may compress extremely well (empty pages)


# ---------------------------------------------------------------- export
def export_project_zip(project: Project, target: Path, progress: Progress | None = None) -> Path:
    """Write `project` to the zip file `target` (replaced atomically) and return its path."""
    target = Path(target).expanduser().absolute()
    if target.is_dir():
        raise ArchiveError(f"{target} is a folder; give the name of the .zip file to write")
    if target.is_relative_to(project.path):
        raise ArchiveError(f"cannot write the export {target} inside the project folder itself")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=target.parent) as scratch:
            snapshot = Path(scratch) / DB_NAME
            journal = _snapshot(project, snapshot)
            assets = _asset_files(project.path / "assets")
            total = 2 + len(journal) + len(assets)
            partial = target.with_name(f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(4)}")
            try:
                _write_zip(partial, snapshot, journal, assets, project.path, total, progress)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    except OSError as exc:
        raise ArchiveError(f"could not write {target}: {exc.strerror or exc}") from exc
    log.info("exported %s (%d nodes, %d assets) to %s", project.path, len(journal), len(assets), target)
    return target


def _snapshot(project: Project, dest: Path) -> dict[str, bytes]:
    """Copy the database and read the journal while no node can be committed, so they agree.

    Assets need no lock: they are immutable and written before the row that names them, so
    listing them afterwards finds a superset of what the snapshot uses.
    """
    with project._mutex:  # every commit holds it for the row and journal write
        conn = project._require_conn()
        copy = sqlite3.connect(dest)
        try:
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
        except sqlite3.Error as exc:
            raise ArchiveError(f"could not copy the database of {project.path}: {exc}") from exc
        finally:
            copy.close()
        journal: dict[str, bytes] = {}
        nodes = project.path / "nodes"
        for name in sorted(os.listdir(nodes)) if nodes.is_dir() else []:
            path = nodes / name
            if _journal_name_ok(name) and path.is_file() and not path.is_symlink():
                journal[f"nodes/{name}"] = path.read_bytes()
    return journal


def _journal_name_ok(name: str) -> bool:
    stem, dot, ext = name.partition(".")
    return bool(NODE_ID_RE.match(stem)) and dot == "." and ext in ("json", "json.damaged")


def _asset_files(root: Path) -> list[tuple[str, Path]]:
    """(archive name, file) of every complete asset, sorted so exports are reproducible."""
    found: list[tuple[str, Path]] = []
    if not root.is_dir():
        return found
    for shard in sorted(root.iterdir()):
        if not shard.is_dir() or shard.is_symlink():
            continue
        for path in sorted(shard.iterdir()):
            name = f"assets/{shard.name}/{path.name}"
            if _ASSET_RE.match(name) and path.is_file() and not path.is_symlink():
                found.append((name, path))
    return found


def _write_zip(
    path: Path,
    snapshot: Path,
    journal: dict[str, bytes],
    assets: list[tuple[str, Path]],
    project_path: Path,
    total: int,
    progress: Progress | None,
) -> None:
    manifest = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "app_version": __version__,
        "created": time.time(),
        "project_name": project_path.name,
        "journal_files": len(journal),
        "assets": len(assets),
    }
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    with zipfile.ZipFile(path, "x", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        zf.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False))
        step()
        zf.write(snapshot, DB_NAME)
        step()
        for name, data in sorted(journal.items()):
            zf.writestr(name, data)
            step()
        for name, file in assets:
            method = zipfile.ZIP_STORED if name.endswith(_STORED_EXTS) else zipfile.ZIP_DEFLATED
            zf.write(file, name, compress_type=method)
            step()
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


# ---------------------------------------------------------------- import
def import_project_zip(
    zip_path: Path,
    target_folder: Path,
    progress: Progress | None = None,
    limits: ArchiveLimits = ArchiveLimits(),  # noqa: B008 - frozen, so sharing the default is safe
) -> Project:
    """Unpack a zip made by export_project_zip into the new folder `target_folder` and open it."""
    zip_path = Path(zip_path).expanduser()
    target = Path(target_folder).expanduser().absolute()
    _check_target(target)
    try:
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        raise ArchiveError(f"there is no file {zip_path}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ArchiveError(f"{zip_path} is not a readable zip file: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot read {zip_path}: {exc.strerror or exc}") from exc
    with zf:
        members = _check_members(zf, zip_path, limits)
        _check_manifest(zf, zip_path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(target.parent).free
        except OSError as exc:
            raise ArchiveError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
        needed = sum(m.file_size for m in members)
        if needed > free:
            raise ArchiveError(
                f"{zip_path} needs {_mb(needed)} but only {_mb(free)} are free at {target.parent}"
            )
        staging = target.with_name(f"{TEMP_PREFIX}{target.name}-import-{secrets.token_hex(4)}")
        try:
            staging.mkdir()
            _extract(zf, zip_path, members, staging, limits, progress)
            _check_database(staging / DB_NAME, zip_path)
            report = _open_report(staging, zip_path)
            _move_into_place(staging, target)
        except OSError as exc:
            raise ArchiveError(f"could not import {zip_path} into {target}: {exc.strerror or exc}") from exc
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    project = Project.open(target, create=False)
    project.report[:0] = [line for line in report if line not in project.report]
    return project


def _open_report(staging: Path, zip_path: Path) -> list[str]:
    """Open the unpacked project once (verify, recover) before it gets its name; what it reported."""
    try:
        with Project.open(staging, create=False) as project:
            report = [line.replace(str(staging), "the imported project") for line in project.report]
    except ArchiveError:
        raise
    except ProjectError as exc:
        raise ArchiveError(f"{zip_path} cannot be imported: {exc}".replace(str(staging), "it")) from exc
    (staging / "project.lock").unlink(missing_ok=True)
    return report


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB"


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ArchiveError(f"{target} exists and is not a folder; choose a new, empty folder to import into")
    if target.is_dir():
        try:
            if any(target.iterdir()):
                raise ArchiveError(
                    f"{target} is not empty; import into a new or empty folder so nothing is overwritten"
                )
        except OSError as exc:
            raise ArchiveError(f"cannot read {target}: {exc.strerror or exc}") from exc


def _bad_name_reason(name: str) -> str | None:
    """Why a member name could escape the target folder or hide something, or None when safe."""
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith(("/", "\\")) or _DRIVE_RE.match(name):
        return "is an absolute path"
    parts = re.split(r"[/\\]", name.rstrip("/"))
    if any(part in ("..", ".") for part in parts):
        return "contains '..' or '.' (path traversal)"
    if "\\" in name or any(not part for part in parts):
        return "is not a plain relative path"
    return None


def _expected(name: str) -> bool:
    if name in (MANIFEST_NAME, DB_NAME):
        return True
    if name.startswith("nodes/"):
        return _journal_name_ok(name[len("nodes/") :])
    match = _ASSET_RE.match(name)
    return bool(match) and match.group(1) == match.group(2)[:2]


def _check_members(zf: zipfile.ZipFile, zip_path: Path, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The file members to extract, after refusing anything unsafe or unexpected."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(f"{zip_path} has {len(infos)} entries; at most {limits.max_members} are allowed")
    members: list[zipfile.ZipInfo] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        reason = _bad_name_reason(name)
        if reason is not None:
            raise ArchiveError(f"{zip_path} was refused: the entry {name!r} {reason}")
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):  # 3: made on Unix, mode bits are real
            raise ArchiveError(f"{zip_path} was refused: the entry {name!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{zip_path} was refused: the entry {name!r} is encrypted")
        key = name.casefold()
        if key in seen:  # also catches names that collide on case-insensitive disks
            raise ArchiveError(f"{zip_path} was refused: the entry {name!r} appears twice")
        seen.add(key)
        if info.is_dir():
            if _DIR_RE.match(name):
                continue
            raise ArchiveError(f"{zip_path} was refused: unexpected folder {name!r}")
        if not _expected(name):
            raise ArchiveError(
                f"{zip_path} was refused: unexpected entry {name!r} "
                "(not a Synesthesia Studio project archive, or a damaged one)"
            )
        if info.file_size > limits.max_member_bytes:
            raise ArchiveError(
                f"{zip_path} was refused: {name!r} would unpack to {_mb(info.file_size)}, "
                f"more than the limit of {_mb(limits.max_member_bytes)}"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise ArchiveError(
                f"{zip_path} was refused: {name!r} is compressed {ratio:.0f} times, "
                "which only a zip bomb does"
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveError(
                f"{zip_path} was refused: it would unpack to more than {_mb(limits.max_total_bytes)}"
            )
        members.append(info)
    names = {m.filename for m in members}
    if MANIFEST_NAME not in names:
        raise ArchiveError(
            f"{zip_path} is not a Synesthesia Studio project archive (it has no {MANIFEST_NAME})"
        )
    if DB_NAME not in names:
        raise ArchiveError(f"{zip_path} is incomplete: the project database {DB_NAME} is missing")
    return members


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, zip_path: Path) -> bytes:
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except _READ_ERRORS as exc:
        raise ArchiveError(f"{zip_path} is damaged: cannot read {info.filename} ({exc})") from exc
    if len(data) > limit:
        raise ArchiveError(f"{zip_path} was refused: {info.filename} is larger than {_mb(limit)}")
    return data


def _check_manifest(zf: zipfile.ZipFile, zip_path: Path) -> None:
    data = _read_limited(zf, zf.getinfo(MANIFEST_NAME), MAX_MANIFEST_BYTES, zip_path)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{zip_path}: {MANIFEST_NAME} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArchiveError(
            f"{zip_path} is not a Synesthesia Studio project archive (format {found!r}, "
            f"expected {ARCHIVE_FORMAT!r})"
        )
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError(f"{zip_path}: {MANIFEST_NAME} has no valid version ({version!r})")
    if version > ARCHIVE_VERSION:
        raise ArchiveError(
            f"{zip_path} was made by a newer version of Synesthesia Studio (archive version {version}); "
            f"this app understands up to {ARCHIVE_VERSION}. Update the app to import it"
        )


def _extract(
    zf: zipfile.ZipFile,
    zip_path: Path,
    members: list[zipfile.ZipInfo],
    staging: Path,
    limits: ArchiveLimits,
    progress: Progress | None,
) -> None:
    """Copy members out in chunks, stopping at the declared size, and check assets' hashes."""
    written_total = 0
    for done, info in enumerate(members, start=1):
        if info.filename == MANIFEST_NAME:
            if progress is not None:
                progress(done, len(members))
            continue
        dest = staging.joinpath(*info.filename.split("/"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        cap = min(info.file_size, limits.max_member_bytes)
        digest = hashlib.sha256()
        written = 0
        with open(dest, "xb") as out:
            for chunk in _member_chunks(zf, info, zip_path):
                written += len(chunk)
                written_total += len(chunk)
                if written > cap or written_total > limits.max_total_bytes:
                    raise ArchiveError(
                        f"{zip_path} was refused: {info.filename} unpacks to more than it declares"
                    )
                digest.update(chunk)
                out.write(chunk)
        match = _ASSET_RE.match(info.filename)
        if match and digest.hexdigest() != match.group(2):
            raise ArchiveError(
                f"{zip_path} is damaged: {info.filename} does not contain what its name promises"
            )
        if progress is not None:
            progress(done, len(members))


def _member_chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_path: Path) -> Iterator[bytes]:
    """The member's bytes in chunks; failures to read it (damage, odd compression) are ArchiveErrors."""
    try:
        with zf.open(info) as src:
            while chunk := src.read(_CHUNK):
                yield chunk
    except _READ_ERRORS as exc:
        raise ArchiveError(f"{zip_path} is damaged: cannot read {info.filename} ({exc})") from exc


def _check_database(db: Path, zip_path: Path) -> None:
    """Refuse a database slot that holds something else; Project.open handles real SQLite damage."""
    with open(db, "rb") as fh:
        header = fh.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise ArchiveError(f"{zip_path} is damaged: {DB_NAME} is not an SQLite database")


def _move_into_place(staging: Path, target: Path) -> None:
    if target.is_dir():
        target.rmdir()  # checked empty above; rename cannot replace a folder everywhere
    os.rename(staging, target)
    fsync_dir(target.parent)
