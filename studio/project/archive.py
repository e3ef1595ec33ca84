"""Import a project .zip safely (export lives in zip_export; both are reachable from here).

Import treats the zip as hostile: the entry count and index size are checked before the zip
is parsed, every member name is checked against the layout (no traversal, links or stray
files), sizes and compression ratios are capped per member and in total, both as declared and
as really read (zip bombs), assets must match their names, and the database is rebuilt from
its rows into a fresh file (no foreign triggers or views). Everything lands in a work folder
beside the target that is renamed into place only once the project in it has opened cleanly,
so a failed import leaves nothing behind; one a killed import left is removed the next time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

try:
    import lzma
except ImportError:  # Python built without lzma: zipfile then refuses such members itself
    lzma = None  # type: ignore[assignment]

from studio.project.dbheader import HEADER_BYTES, SQLITE_MAGIC, header_problem, user_version
from studio.project.errors import ProjectError
from studio.project.fsio import fsync_dir
from studio.project.leftovers import remove_stale, work_name
from studio.project.rebuild import UnusableDatabase, rebuild_database
from studio.project.recovery import DB_NAME, newer_schema_error
from studio.project.schema import SCHEMA_VERSION
from studio.project.store import Project
from studio.project.zip_export import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    ASSET_RE,
    MANIFEST_NAME,
    Progress,
    export_project_zip,
    journal_name_ok,
)
from studio.project.zip_limits import (
    ArchiveError,
    ArchiveLimits,
    check_directory,
    check_member,
    check_totals,
    mb,
)

__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "ArchiveError",
    "ArchiveLimits",
    "export_project_zip",
    "import_project_zip",
]

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 64 << 10
_CHUNK = 1 << 20
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
_SET_ASIDE_NAME = f"{DB_NAME}.unusable-import"


def import_project_zip(
    zip_path: Path,
    target_folder: Path,
    progress: Progress | None = None,
    limits: ArchiveLimits = ArchiveLimits(),  # noqa: B008 - frozen, so sharing the default is safe
) -> Project:
    """Unpack a zip made by export_project_zip into the new folder `target_folder` and open it.

    `limits` are lowered to what the disk at the target and the memory can spare.
    """
    zip_path = Path(zip_path).expanduser()
    target = Path(target_folder).expanduser().absolute()
    _check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target.parent)
        limits = limits.fitted(target.parent)
    except OSError as exc:
        raise ArchiveError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    check_directory(zip_path, limits)
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
        staging = target.parent / work_name(target.name, "importing")
        try:
            staging.mkdir()
            _extract(zf, zip_path, members, staging, limits, progress)
            notes = _rebuild_database(staging, zip_path)
            report = notes + _open_report(staging, zip_path)
            _move_into_place(staging, target)
        except OSError as exc:
            raise ArchiveError(f"could not import {zip_path} into {target}: {exc.strerror or exc}") from exc
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    project = Project.open(target, create=False)
    project.report[:0] = [line for line in report if line not in project.report]
    return project


def _rebuild_database(staging: Path, zip_path: Path) -> list[str]:
    """Replace the unpacked database by one rebuilt from its rows; report lines.

    A newer schema is refused; a database that cannot be read is set aside (kept, never used)
    so the open that follows rebuilds the history from the journal.
    """
    db = staging / DB_NAME
    with open(db, "rb") as fh:
        header = fh.read(HEADER_BYTES)
    if not header.startswith(SQLITE_MAGIC):
        raise ArchiveError(f"{zip_path} is damaged: {DB_NAME} is not an SQLite database")
    problem = header_problem(header)
    if problem is None and user_version(header) > SCHEMA_VERSION:
        message = str(newer_schema_error(Path(zip_path.name), user_version(header)))
        raise ArchiveError(message.replace("the project was not changed", "nothing was imported"))
    fresh = db.with_name(f"{DB_NAME}.rebuilt")
    try:
        if problem is not None:
            raise UnusableDatabase(problem)
        notes = rebuild_database(db, fresh)
    except UnusableDatabase as exc:
        os.replace(db, db.with_name(_SET_ASIDE_NAME))
        log.warning("the database in %s is unusable (%s); rebuilding from the journal", zip_path, exc)
        return [
            f"The database in the zip could not be used ({exc}); it is kept as {_SET_ASIDE_NAME} "
            "and the history was rebuilt from the journal."
        ]
    os.replace(fresh, db)
    return notes


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
        return journal_name_ok(name[len("nodes/") :])
    match = ASSET_RE.match(name)
    return bool(match) and match.group(1) == match.group(2)[:2]


def _check_members(zf: zipfile.ZipFile, zip_path: Path, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The file members to extract, after refusing anything unsafe or unexpected."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(
            f"{zip_path} was refused: it has {len(infos)} entries, "
            f"more than the limit of {limits.max_members}"
        )
    members: list[zipfile.ZipInfo] = []
    seen: set[str] = set()
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
        check_member(zip_path, info, limits)
        members.append(info)
    check_totals(zip_path, members, limits)
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
        raise ArchiveError(f"{zip_path} was refused: {info.filename} is larger than {mb(limit)}")
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
        match = ASSET_RE.match(info.filename)
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


def _move_into_place(staging: Path, target: Path) -> None:
    if target.is_dir():
        target.rmdir()  # checked empty above; rename cannot replace a folder everywhere
    os.rename(staging, target)
    fsync_dir(target.parent)
