"""The database schema and its migrations, one small step per version.

The version lives in SQLite's `PRAGMA user_version` (schema_version in the file header), so a
version check needs no table and each step bumps it inside its own transaction. A new project
runs every step from 0, so the migration path is exercised on every create, not only on upgrades.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
NODE_COLUMNS = ("id", "parents", "kind", "recipe", "image", "created", "starred", "note", "deleted")


def _create_v1(conn: sqlite3.Connection) -> None:
    """Version 1: the history DAG; parents are a JSON list so one query loads a node."""
    conn.execute(
        """CREATE TABLE nodes (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            parents TEXT NOT NULL DEFAULT '[]',
            kind TEXT NOT NULL,
            recipe TEXT NOT NULL,
            image TEXT NOT NULL,
            created REAL NOT NULL,
            starred INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT ''
        )"""
    )
    conn.execute("CREATE INDEX nodes_created ON nodes(created)")


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Version 2: soft delete (a trash instead of losing nodes) and a key-value table for UI state."""
    conn.execute("ALTER TABLE nodes ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")


# MIGRATIONS[v] turns a version-v database into version v+1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _create_v1, 1: _v1_to_v2}


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> tuple[int, int]:
    """Bring `conn` (autocommit mode) up to SCHEMA_VERSION; returns (from, to)."""
    start = user_version(conn)
    for version in range(start, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("project database migrated from schema %d to %d", version, version + 1)
    return start, SCHEMA_VERSION


def missing_columns(conn: sqlite3.Connection) -> list[str]:
    """Columns a current database must have but this one lacks (a damaged or foreign file)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(nodes)")}
    missing = [c for c in NODE_COLUMNS if c not in have]
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
        missing.append("meta table")
    return missing
