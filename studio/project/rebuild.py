"""Rebuild an imported project database from its rows into a new file with this app's schema.

A database file is code as well as data: a trigger or view hidden in an imported file would run
inside this app later (a trigger that empties `nodes` on the next star, one that trashes every
node on the next save). So an import never keeps the file it was given: the rows of `nodes` and
`meta` are read from it (read-only, untrusted schema) and written into a fresh database that
`migrate` made, and everything else in it is left out and named in the report.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from studio.project.schema import NODE_COLUMNS, migrate

log = logging.getLogger(__name__)

_OURS = {("table", "nodes"), ("table", "meta"), ("index", "nodes_created")}
_REQUIRED = tuple(c for c in NODE_COLUMNS if c != "deleted")  # version 1 had no trash
_BATCH = 1000
_NAMES_SHOWN = 5


class UnusableDatabase(Exception):
    """The imported file cannot be read as a project database; the message is a short reason."""


def rebuild_database(source: Path, dest: Path) -> list[str]:
    """Copy the rows of `source` into the new database `dest`; lines saying what was left out.

    Raises UnusableDatabase when `source` is damaged or lacks the project tables; `dest` is then
    not created. The caller has checked the header (newer schemas are refused before this).
    """
    try:
        src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise UnusableDatabase(str(exc)) from exc
    try:
        src.execute("PRAGMA trusted_schema = OFF")  # nothing in its schema may call functions
        src.execute("PRAGMA query_only = ON")
        foreign = _check_source(src)
        _copy_rows(src, dest)
    except sqlite3.Error as exc:
        dest.unlink(missing_ok=True)
        raise UnusableDatabase(str(exc)) from exc
    except UnusableDatabase:
        dest.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    if not foreign:
        return []
    log.warning("imported database carried %s; left out", ", ".join(foreign))
    shown = ", ".join(foreign[:_NAMES_SHOWN]) + (" …" if len(foreign) > _NAMES_SHOWN else "")
    return [
        f"The imported database carried {len(foreign)} thing(s) this app does not make ({shown}); "
        "only its history and settings were copied."
    ]


def _check_source(src: sqlite3.Connection) -> list[str]:
    """The foreign schema objects ("trigger wipe", …); UnusableDatabase when ours are unusable."""
    problems = [row[0] for row in src.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise UnusableDatabase(f"integrity check failed: {problems[0]}")
    objects = {(str(kind), str(name)) for kind, name in src.execute("SELECT type, name FROM sqlite_master")}
    if ("table", "nodes") not in objects:
        raise UnusableDatabase("it has no nodes table")
    columns = _columns(src, "nodes")
    missing = [c for c in _REQUIRED if c not in columns]
    if missing:
        raise UnusableDatabase(f"its nodes table lacks {', '.join(missing)}")
    return sorted(
        f"{kind} {name!r}"
        for kind, name in objects
        if (kind, name) not in _OURS and not name.startswith("sqlite_")
    )


def _columns(src: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in src.execute(f"PRAGMA table_info({table})")}


def _copy_rows(src: sqlite3.Connection, dest: Path) -> None:
    """Stream the rows in batches into a fresh database; rows its constraints refuse are left out
    (the journal, which the open that follows reads, still has those nodes)."""
    columns = _columns(src, "nodes")
    picked = ", ".join(c if c in columns else "0" for c in NODE_COLUMNS)
    order = " ORDER BY seq" if "seq" in columns else ""
    has_meta = bool(
        src.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    ) and {"key", "value"} <= _columns(src, "meta")
    out = sqlite3.connect(dest, isolation_level=None)
    try:
        migrate(out)
        out.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" * len(NODE_COLUMNS))
        _stream(src.execute(f"SELECT {picked} FROM nodes{order}"), out, "nodes", NODE_COLUMNS, marks)
        if has_meta:
            _stream(src.execute("SELECT key, value FROM meta"), out, "meta", ("key", "value"), "?, ?")
        out.execute("COMMIT")
    finally:
        out.close()


def _stream(
    rows: sqlite3.Cursor, out: sqlite3.Connection, table: str, columns: tuple[str, ...], marks: str
) -> None:
    sql = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    while batch := rows.fetchmany(_BATCH):
        out.executemany(sql, batch)
