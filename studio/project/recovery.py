"""Opening `project.sqlite` whatever state it is in.

A damaged database is moved aside (never deleted) and a fresh one is made; the store then
refills it from the journal. A database from a newer app is refused untouched. A read-only
project is copied into memory so the rest of the code needs no read-only special cases.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio.project.dbheader import HEADER_BYTES, header_problem, user_version
from studio.project.errors import ProjectError
from studio.project.schema import SCHEMA_VERSION, migrate, missing_columns

log = logging.getLogger(__name__)

DB_NAME = "project.sqlite"
_SIDE_FILES = ("-wal", "-shm")


class DamagedDatabase(Exception):
    """The database cannot be used; the message is a short reason for the report."""


@dataclass
class OpenedDatabase:
    conn: sqlite3.Connection
    report: list[str] = field(default_factory=list)
    rebuilt: bool = False  # the database was replaced by an empty one: nodes come from the journal


def newer_schema_error(folder: Path, version: int) -> ProjectError:
    return ProjectError(
        f"the project {folder} was made by a newer version of Synesthesia Studio (schema {version}); "
        f"this app understands up to {SCHEMA_VERSION}. Update the app to open it; the project was not changed"
    )


def _check_header(folder: Path, db: Path) -> None:
    """Refuse newer schemas before SQLite touches the file; flag files that are not SQLite at all.

    A damaged header is damage, whatever version it seems to hold, so the journal can rebuild.
    """
    try:
        with open(db, "rb") as fh:
            header = fh.read(HEADER_BYTES)
    except OSError as exc:
        raise ProjectError(f"cannot read {db}: {exc.strerror or exc}") from exc
    if not header:
        return  # an empty file is an empty database to SQLite
    problem = header_problem(header)
    if problem is not None:
        raise DamagedDatabase(problem)
    version = user_version(header)
    if version > SCHEMA_VERSION:
        raise newer_schema_error(folder, version)


BUSY_TIMEOUT_S = 5.0  # how long to wait for another program that holds the database file


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    return sqlite3.connect(
        target, uri=uri, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
    )


def _failure(exc: sqlite3.Error, db: Path) -> Exception:
    """Only real damage may move a database aside; busy, full or unreadable files are errors."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return DamagedDatabase(str(exc))
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return ProjectError(f"the database {db} is in use by another program ({exc}); close it and try again")
    return ProjectError(f"cannot use the database {db}: {exc}")


def _verify(folder: Path, conn: sqlite3.Connection, db: Path) -> int:
    """Schema version after integrity checks; DamagedDatabase when the file is not usable."""
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise newer_schema_error(folder, version)
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.Error as exc:
        raise _failure(exc, db) from exc
    if problems != ["ok"]:
        raise DamagedDatabase(f"integrity check failed: {problems[0]}")
    return version


def _prepare(folder: Path, conn: sqlite3.Connection, backup_dir: Path | None) -> None:
    """Verify, back up an old-schema file, migrate, and check the tables are ours."""
    db = folder / DB_NAME
    version = _verify(folder, conn, db)
    try:
        if 0 < version < SCHEMA_VERSION and backup_dir is not None:
            backup = _free_name(backup_dir / f"{DB_NAME}.v{version}-backup")
            dest = sqlite3.connect(backup)
            try:
                conn.backup(dest)
            finally:
                dest.close()
            log.info("backed up schema %d database to %s before migrating", version, backup)
        migrate(conn)
        missing = missing_columns(conn)
    except sqlite3.Error as exc:
        failure = _failure(exc, db)
        if isinstance(failure, DamagedDatabase):
            raise DamagedDatabase(f"it could not be upgraded ({exc})") from exc
        raise failure from exc
    if missing:
        raise DamagedDatabase(f"it lacks {', '.join(missing)}")


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


def _move_aside(db: Path) -> Path:
    """Rename the damaged database and its WAL/SHM together; a stale WAL must not meet a new file."""
    target = _free_name(db.with_name(f"{db.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"))
    try:
        os.replace(db, target)
        for suffix in _SIDE_FILES:
            side = db.with_name(db.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
    except OSError as exc:
        raise ProjectError(f"the database {db} is damaged and could not be moved aside: {exc}") from exc
    return target


def _set_aside_orphan_side_files(db: Path) -> None:
    """A WAL left without its database must not be replayed into a new, unrelated one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in _SIDE_FILES:
        side = db.with_name(db.name + suffix)
        if side.exists():
            target = _free_name(side.with_name(f"{side.name}.orphan-{stamp}"))
            try:
                os.replace(side, target)
            except OSError as exc:
                raise ProjectError(f"cannot move the leftover file {side} aside: {exc}") from exc
            log.warning("moved %s (its database is gone) to %s", side, target)


def open_writable(folder: Path) -> OpenedDatabase:
    db = folder / DB_NAME
    report: list[str] = []
    rebuilt = not db.exists() or db.stat().st_size == 0
    if not db.exists():
        _set_aside_orphan_side_files(db)
    try:
        if db.exists():
            _check_header(folder, db)
        conn = _open_rw(db)
        try:
            _prepare(folder, conn, backup_dir=None if rebuilt else folder)
        except BaseException:
            conn.close()
            raise
    except DamagedDatabase as exc:
        aside = _move_aside(db)
        log.warning("damaged database %s moved to %s: %s", db, aside, exc)
        report.append(
            f"The database was damaged ({exc}); it was kept as {aside.name} and rebuilt from the journal."
        )
        rebuilt = True
        conn = _open_rw(db)
        try:
            _prepare(folder, conn, backup_dir=None)
        except DamagedDatabase as again:
            conn.close()
            raise ProjectError(f"cannot create a new database in {folder}: {again}") from again
    return OpenedDatabase(conn, report, rebuilt)


def _open_rw(db: Path) -> sqlite3.Connection:
    conn: sqlite3.Connection | None = None
    try:
        conn = _connect(str(db))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not only a crash
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise _failure(exc, db) from exc
    return conn


def open_readonly(folder: Path) -> OpenedDatabase:
    """Copy the database into memory (SQLite cannot share a WAL file in a read-only folder)."""
    db = folder / DB_NAME
    report: list[str] = []
    memory = _connect(":memory:")
    if not db.exists() or db.stat().st_size == 0:
        migrate(memory)
        return OpenedDatabase(memory, report, rebuilt=True)
    try:
        _check_header(folder, db)
        _copy_into(db, memory)
        _prepare(folder, memory, backup_dir=None)
        return OpenedDatabase(memory, report, rebuilt=False)
    except DamagedDatabase as exc:
        memory.close()
        memory = _connect(":memory:")
        migrate(memory)
        report.append(
            f"The database is damaged ({exc}); it was opened only for reading, so it was left as "
            "it is and the history shown comes from the journal."
        )
        return OpenedDatabase(memory, report, rebuilt=True)


def _copy_into(db: Path, memory: sqlite3.Connection) -> None:
    uri = db.resolve().as_uri()
    failure: Exception | None = None
    for mode in ("?mode=ro", "?immutable=1"):  # immutable: no -shm file can be made here
        try:
            source = _connect(uri + mode, uri=True)
        except sqlite3.Error as exc:
            failure = _failure(exc, db)
            continue
        try:
            source.backup(memory)
            return
        except sqlite3.Error as exc:
            failure = _failure(exc, db)
            if isinstance(failure, DamagedDatabase):
                raise failure from exc
        finally:
            source.close()
    assert failure is not None
    raise failure
