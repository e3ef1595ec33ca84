"""SQLite's own verdict on a project database, shared by the crash, recovery and archive tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
