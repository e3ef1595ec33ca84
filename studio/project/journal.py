"""The node journal: one small JSON file per node in `nodes/`, written before the database row.

It is the second copy of the history: if `project.sqlite` is destroyed, the journal plus the
assets rebuild it. Files are replaced atomically, so each is always a complete old or new version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from studio.project.errors import ProjectError
from studio.project.fsio import atomic_write, fsync_dir, remove_temp_files
from studio.project.node import NODE_ID_RE, Node, node_from_parts, node_to_dict
from studio.recipe import loads

log = logging.getLogger(__name__)

JOURNAL_FORMAT = 1
SUFFIX = ".json"
DAMAGED_SUFFIX = ".damaged"
CHECK = "check"  # the record's checksum (files written before it have none and are trusted)


class JournalError(ValueError):
    """A journal file could not be used; the message says which and why.

    `damaged` is False when the file is intact but not understood (e.g. from a newer version).
    """

    def __init__(self, message: str, damaged: bool = True) -> None:
        super().__init__(message)
        self.damaged = damaged


class Journal:
    """The `nodes/` folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, node_id: str) -> Path:
        return self.root / f"{node_id}{SUFFIX}"

    def ids(self) -> set[str]:
        """Ids of all journal files, from one directory listing."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return set()
        stems = (n[: -len(SUFFIX)] for n in names if n.endswith(SUFFIX))
        return {stem for stem in stems if NODE_ID_RE.match(stem)}

    def write(self, node: Node, deleted: bool, durable: bool = True) -> None:
        atomic_write(self.file(node.id), journal_bytes(node, deleted), durable=durable)

    def write_many(self, entries: list[tuple[Node, bool]]) -> None:
        """Write many files with one sync at the end (repairs after a migration or rebuild)."""
        batch_sync = hasattr(os, "sync")
        for node, deleted in entries:
            self.write(node, deleted, durable=not batch_sync)
        if batch_sync and entries:
            os.sync()
            fsync_dir(self.root)

    def remove(self, node_id: str) -> None:
        self.file(node_id).unlink(missing_ok=True)

    def read(self, node_id: str) -> tuple[Node, bool]:
        """The node and its deleted flag; JournalError when the file is unreadable or wrong."""
        path = self.file(node_id)
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise JournalError(f"{path.name} (cannot read: {exc.strerror or exc})") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise JournalError(f"{path.name} (not valid JSON)") from exc
        if not isinstance(data, dict):
            raise JournalError(f"{path.name} (not a JSON object)")
        if not _check_holds(data):
            raise JournalError(f"{path.name} (its checksum does not match: the file was changed or damaged)")
        fmt = data.get("format")
        if not isinstance(fmt, int) or fmt > JOURNAL_FORMAT:
            raise JournalError(f"{path.name} (unknown journal format {fmt!r})", damaged=False)
        try:
            node = node_from_parts(
                data.get("id"),
                data.get("parents", []),
                data.get("kind"),
                data.get("recipe"),
                data.get("image"),
                data.get("created"),
                data.get("starred", False),
                data.get("note", ""),
            )
        except (ValueError, TypeError) as exc:
            raise JournalError(f"{path.name} ({exc})", damaged=False) from exc
        if node.id != node_id:
            raise JournalError(f"{path.name} (holds node {node.id!r}, not {node_id!r})")
        deleted = data.get("deleted", False)
        if not isinstance(deleted, bool):
            raise JournalError(f"{path.name} (deleted must be true or false)")
        return node, deleted

    def unreadable(self, ids: Iterable[str]) -> list[str]:
        """The ids whose file exists but cannot be read back as that node's record.

        A quick check (a JSON object naming the node) that runs on every open, so damage is
        found while the database still holds the record to rewrite the file from.
        """
        bad: list[str] = []
        prefix = os.path.join(self.root, "")
        for node_id in ids:
            try:
                with open(f"{prefix}{node_id}{SUFFIX}", "rb") as fh:
                    data = loads(fh.read().decode("utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, UnicodeDecodeError, RecursionError):
                bad.append(node_id)
                continue
            if not isinstance(data, dict) or data.get("id") != node_id or not _check_holds(data):
                bad.append(node_id)
        return bad

    def set_aside(self, node_id: str) -> None:
        """Rename an unreadable file so it is kept for inspection but not reported on every open."""
        path = self.file(node_id)
        try:
            os.replace(path, path.with_name(path.name + DAMAGED_SUFFIX))
        except OSError as exc:
            log.warning("could not set aside damaged journal file %s: %s", path, exc)

    def remove_temp_files(self) -> int:
        return remove_temp_files(self.root)


def journal_bytes(node: Node, deleted: bool) -> bytes:
    """The journal record of `node`, as written to its file and into exported zips."""
    data = {"format": JOURNAL_FORMAT, **node_to_dict(node, deleted)}
    data[CHECK] = record_checksum(data)
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")


def record_checksum(data: dict) -> str:
    """A hash of the record's canonical JSON: a flipped digit that still parses (a date, an image
    hash) is damage too, and only a checksum can tell. JSON round-trips the text exactly."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_holds(data: dict) -> bool:
    """True when the record's checksum matches, or it has none (written before checksums)."""
    if CHECK not in data:
        return True
    rest = {k: v for k, v in data.items() if k != CHECK}
    try:
        return data[CHECK] == record_checksum(rest)
    except (TypeError, ValueError, RecursionError):
        return False


def ensure_writable_text(value: str, what: str) -> str:
    """Reject text SQLite and UTF-8 cannot store (lone surrogates) with a clear message."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProjectError(f"{what} contains characters that cannot be saved: {exc.reason}") from exc
    return value
