"""Project: a folder holding a history DAG of nodes, saved so that a crash loses nothing shown.

Layout: `project.sqlite` (WAL), `nodes/<id>.json` (journal, a second copy of every node),
`assets/ab/<sha256>.<ext>` (content-addressed files), `project.lock` (one app at a time).
A node is committed in this order before `add_node` returns: image file (fsynced, renamed),
journal file (same), then the database row in one transaction. All nodes are held in memory
after opening (one query), so the UI's reads are cheap; the lock guarantees nobody else writes.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from studio.bulk import gc_paused
from studio.project.assets import AssetStore
from studio.project.errors import NodeNotFoundError, ProjectError, ProjectLockedError
from studio.project.fsio import make_dir
from studio.project.journal import Journal, JournalError, ensure_writable_text
from studio.project.leftovers import probe_name, remove_stale
from studio.project.lock import LOCK_NAME, ProjectLock
from studio.project.node import Node, node_from_parts
from studio.project.recovery import DB_NAME, OpenedDatabase, open_readonly, open_writable
from studio.recipe import Recipe

__all__ = ["Node", "NodeNotFoundError", "Project", "ProjectError", "ProjectLockedError"]

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_NOTE_CHARS = 100_000
MAX_KIND_CHARS = 64
MAX_META_KEY_CHARS = 200
_LIST_IN_REPORT = 5
_PROJECT_ENTRIES = (DB_NAME, "nodes", "assets", LOCK_NAME)


def _ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:_LIST_IN_REPORT])
    return shown + (f" and {len(ids) - _LIST_IN_REPORT} more" if len(ids) > _LIST_IN_REPORT else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _write_problem(folder: Path) -> str | None:
    """Why `folder` cannot be written ("read-only", "full"), or None; probed by creating a file

    because os.access is wrong for root, ACLs, read-only mounts and chattr +i.
    """
    probe = folder / probe_name()
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "read-only"
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return "full"
        raise ProjectError(f"cannot use the project folder {folder}: {exc.strerror or exc}") from exc
    os.close(fd)
    probe.unlink(missing_ok=True)
    return None


def _folder_problem(folder: Path) -> str | None:
    """The write problem of the project folder or of any of its parts."""
    problem = _write_problem(folder)
    for name in _PROJECT_ENTRIES:
        entry = folder / name
        if problem is None and entry.exists() and not os.access(entry, os.W_OK):
            problem = "read-only"
        if problem is None and entry.is_dir():
            problem = _write_problem(entry)
    return problem


def _project_folder(folder: str | os.PathLike[str], create: bool, readonly: bool) -> Path:
    """The absolute project folder, created when allowed; refuses folders that hold other things."""
    path = Path(folder).expanduser()
    if path.is_file() and path.name == DB_NAME:
        path = path.parent
    path = path.absolute()
    if path.exists() and not path.is_dir():
        raise ProjectError(f"{path} is a file, not a project folder")
    if not path.exists():
        if not create or readonly:
            raise ProjectError(f"there is no project at {path}")
        try:
            make_dir(path)
        except OSError as exc:
            raise ProjectError(f"cannot create the project folder {path}: {exc.strerror or exc}") from exc
    try:
        entries = [n for n in os.listdir(path) if not n.startswith(".")]
    except OSError as exc:
        raise ProjectError(f"cannot read the project folder {path}: {exc.strerror or exc}") from exc
    if not any(name in entries for name in _PROJECT_ENTRIES):
        if entries:
            raise ProjectError(
                f"{path} is not a Synesthesia Studio project and is not empty; choose an empty folder"
            )
        if not create or readonly:
            raise ProjectError(f"there is no project at {path}")
    return path


class Project:
    """An open project. Thread-safe: the inference worker adds nodes while the UI thread reads."""

    def __init__(self, path: Path, lock: ProjectLock, opened: OpenedDatabase, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.report: list[str] = list(opened.report) + ([lock.warning] if lock.warning else [])
        self.assets = AssetStore(path / "assets", readonly=readonly)
        self._journal = Journal(path / "nodes")
        self._lock_file = lock
        self._conn: sqlite3.Connection | None = opened.conn
        self._mutex = threading.RLock()
        self._nodes: dict[str, Node] = {}  # all nodes, trash included, in created order
        self._deleted: set[str] = set()
        self._children: dict[str, list[str]] = {}
        self._last_created = 0.0

    # ---------------------------------------------------------------- opening and closing
    @classmethod
    def open(cls, folder: str | os.PathLike[str], create: bool = True, readonly: bool = False) -> Project:
        """Open (or create) the project in `folder`, recovering what a crash or damage left.

        Raises ProjectLockedError when another app instance has it open for writing, and
        ProjectError when it cannot be opened at all (newer schema, unreadable folder, not a
        project). A folder that cannot be written opens read-only, and `report` says so.
        `readonly` opens take no lock, so they also work while the app has the project open.
        """
        path = _project_folder(folder, create, readonly)
        problem = None if readonly else _folder_problem(path)
        if problem and not any((path / name).exists() for name in (DB_NAME, "nodes")):
            raise ProjectError(f"cannot create a project in {path}: the folder is {problem}")
        writable = not readonly and problem is None
        # reading needs no lock: it works on a copy, beside a writer (the app) if there is one
        lock = ProjectLock.acquire(path) if writable else ProjectLock.unlocked(path)
        try:
            opened = open_writable(path) if writable else open_readonly(path)
            project = cls(path, lock, opened, readonly=not writable)
            try:
                project._load(opened.rebuilt)
            except BaseException:
                opened.conn.close()
                raise
        except OSError as exc:
            lock.release()
            raise ProjectError(f"cannot open the project {path}: {exc.strerror or exc}") from exc
        except BaseException:
            lock.release()
            raise
        if problem == "read-only":
            project.report.append(
                f"The project folder {path} is read-only: you can look, but nothing can be changed."
            )
        elif problem == "full":
            project.report.append(
                f"The disk holding {path} is full: you can look, but nothing can be changed "
                "until space is freed."
            )
        return project

    def _load(self, rebuilt: bool) -> None:
        """Fill the in-memory index, reconcile database and journal, and check assets."""
        if not self.readonly:
            make_dir(self.path / "assets")
            make_dir(self.path / "nodes")
            self._journal.remove_temp_files()
            self.assets.remove_temp_files()
            for folder in (self.path.parent, self.path, self.path / "nodes", self.path / "assets"):
                remove_stale(folder)
        conn = self._require_conn()
        rows = conn.execute(
            "SELECT id, parents, kind, recipe, image, created, starred, note, deleted FROM nodes "
            "ORDER BY created, seq"
        ).fetchall()
        loaded: list[tuple[Node, bool]] = []
        bad_rows: dict[str, str] = {}
        with gc_paused():
            for row in rows:
                try:
                    loaded.append((node_from_parts(*row[:8]), bool(row[8])))
                except (ValueError, TypeError) as exc:
                    bad_rows[row[0]] = f"{row[0]} ({exc})"
        good_ids = {n.id for n, _ in loaded}
        journal_ids = self._journal.ids()
        recovered, bad_journals = self._read_journal(sorted(journal_ids - good_ids))
        if recovered:
            self._insert_rows(recovered)  # also replaces unreadable rows with their journal copy
        repaired = [n.id for n, _ in recovered if n.id in bad_rows]
        for node_id in repaired:
            del bad_rows[node_id]
        rewritten: list[str] = []
        if not self.readonly:
            rewritten = self._journal.unreadable(n.id for n, _ in loaded if n.id in journal_ids)
            stale = set(rewritten)
            missing_journal = [(n, d) for n, d in loaded if n.id not in journal_ids or n.id in stale]
            try:
                self._journal.write_many(missing_journal)
            except OSError as exc:
                log.warning("could not write journal files for %d nodes: %s", len(missing_journal), exc)
                rewritten = []
        everything = sorted(loaded + recovered, key=lambda item: item[0].created)
        for node, deleted in everything:
            self._index(node, deleted)
        new_nodes = [n.id for n, _ in recovered if n.id not in repaired]
        if rewritten:
            self.report.append(
                f"{_count(len(rewritten), 'journal file')} {_were(len(rewritten))} damaged and "
                f"rewritten from the database: {_ids_text(rewritten)}."
            )
        self._report_load(rebuilt, new_nodes, repaired, list(bad_rows.values()), bad_journals)

    def _read_journal(self, ids: list[str]) -> tuple[list[tuple[Node, bool]], list[str]]:
        recovered: list[tuple[Node, bool]] = []
        bad: list[str] = []
        for node_id in ids:
            try:
                recovered.append(self._journal.read(node_id))
            except JournalError as exc:
                bad.append(str(exc))
                if exc.damaged and not self.readonly:
                    self._journal.set_aside(node_id)
        return recovered, bad

    def _report_load(
        self,
        rebuilt: bool,
        recovered: list[str],
        repaired: list[str],
        bad_rows: list[str],
        bad_journals: list[str],
    ) -> None:
        n = len(recovered)
        if recovered and rebuilt and self.report:
            self.report.append(f"{_count(n, 'node')} {_were(n)} restored from the journal.")
        elif recovered and rebuilt:
            self.report.append(
                f"The database was missing; {_count(n, 'node')} {_were(n)} restored from the journal."
            )
        elif recovered:
            self.report.append(
                f"{_count(n, 'node')} being saved when the app stopped {_were(n)} recovered "
                f"from the journal: {_ids_text(recovered)}."
            )
        if repaired:
            self.report.append(
                f"{_count(len(repaired), 'node')} {_were(len(repaired))} damaged in the database "
                f"and restored from the journal: {_ids_text(repaired)}."
            )
        if bad_rows:
            self.report.append(
                f"{_count(len(bad_rows), 'node')} could not be read from the database and "
                f"{'is' if len(bad_rows) == 1 else 'are'} hidden: {_ids_text(bad_rows)}."
            )
        if bad_journals:
            kept = "" if self.readonly else " (damaged files are kept with the ending .damaged)"
            self.report.append(
                f"{_count(len(bad_journals), 'journal file')} could not be read and "
                f"{_were(len(bad_journals))} skipped{kept}: {_ids_text(bad_journals)}."
            )
        on_disk = self.assets.existing()
        no_image = [node.id for node in self._nodes.values() if node.image not in on_disk]
        if no_image:
            self.report.append(
                f"{_count(len(no_image), 'node')} had missing images: {_ids_text(no_image)}. "
                "Their recipes can render them again."
            )
        no_input = [
            node.id
            for node in self._nodes.values()
            if any(
                sha not in on_disk for sha in (node.recipe.sketch, node.recipe.mask, node.recipe.sound) if sha
            )
        ]
        if no_input:
            self.report.append(
                f"{_count(len(no_input), 'node')} {'uses' if len(no_input) == 1 else 'use'} "
                f"sketch, mask or sound files that are missing: {_ids_text(no_input)}."
            )
        for line in self.report:
            log.warning("project %s: %s", self.path, line)

    def close(self) -> None:
        """Close the database and free the lock (idempotent)."""
        with self._mutex:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                try:
                    conn.close()
                except sqlite3.Error as exc:
                    log.warning("closing %s: %s", self.path, exc)
            self._lock_file.release()

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("read-only" if self.readonly else "open")
        return f"<Project {str(self.path)!r} {state}, {len(self._nodes)} nodes>"

    @property
    def name(self) -> str:
        return self.path.name

    # ---------------------------------------------------------------- reading
    def nodes(self) -> list[Node]:
        """Visible nodes (not in the trash), oldest first."""
        with self._mutex:
            return [n for n in self._nodes.values() if n.id not in self._deleted]

    def node(self, node_id: str) -> Node:
        """The node with that id (also when it is in the trash)."""
        with self._mutex:
            try:
                return self._nodes[node_id]
            except (KeyError, TypeError):
                raise NodeNotFoundError(f"there is no node {node_id!r} in the project {self.name}") from None

    def __contains__(self, node_id: object) -> bool:
        with self._mutex:
            return node_id in self._nodes and node_id not in self._deleted

    def __len__(self) -> int:
        with self._mutex:
            return len(self._nodes) - len(self._deleted)

    def children(self, node_id: str) -> list[Node]:
        """Visible nodes that have `node_id` among their parents, oldest first."""
        with self._mutex:
            self.node(node_id)
            return [self._nodes[c] for c in self._children.get(node_id, ()) if c not in self._deleted]

    def roots(self) -> list[Node]:
        """Visible nodes with no visible parent: true roots, and children of trashed nodes."""
        with self._mutex:
            return [
                n
                for n in self._nodes.values()
                if n.id not in self._deleted
                and not any(p in self._nodes and p not in self._deleted for p in n.parents)
            ]

    def trash(self) -> list[Node]:
        """Soft-deleted nodes, oldest first; `restore_node` brings one back."""
        with self._mutex:
            return [n for n in self._nodes.values() if n.id in self._deleted]

    def meta_get(self, key: str, default: Any = None) -> Any:
        """A small JSON value saved with the project (UI state), or `default`."""
        with self._mutex:
            row = self._require_conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            log.warning("project meta %r holds unreadable JSON; using the default", key)
            return default

    # ---------------------------------------------------------------- writing
    def add_node(
        self, kind: str, recipe: Recipe, image_png: bytes, parents: Iterable[str] | str | None = ()
    ) -> Node:
        """Commit a new node durably (image, journal, row) and return it."""
        self._check_writable()
        if (
            not isinstance(kind, str)
            or not kind.strip()
            or not kind.isprintable()
            or len(kind) > MAX_KIND_CHARS
        ):
            raise ProjectError(f"node kind must be a short printable name like 'generate', not {kind!r}")
        if not isinstance(recipe, Recipe):
            raise ProjectError(f"recipe must be a studio.recipe.Recipe, not {type(recipe).__name__}")
        if not isinstance(image_png, bytes | bytearray | memoryview) or bytes(image_png[:8]) != PNG_SIGNATURE:
            raise ProjectError("image_png must be the bytes of a PNG image")
        parent_ids = self._check_parents(parents)
        try:
            recipe_json = recipe.to_json()
            recipe = Recipe.from_json(recipe_json)  # what a reload gives back, so no surprise later
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"the recipe cannot be saved: {exc}") from exc
        ensure_writable_text(recipe_json, "the recipe")
        for what, sha in (("sketch", recipe.sketch), ("mask", recipe.mask), ("sound", recipe.sound)):
            if sha is not None and not self.assets.has(sha):
                raise ProjectError(
                    f"the recipe's {what} {sha!r} is not in the project; "
                    "store it with project.assets.put first"
                )
        image = self.assets.put(bytes(image_png), "png")  # outside the mutex: readers never wait on it
        with self._mutex:
            self._check_writable()
            parent_ids = self._check_parents(parent_ids)
            node_id = uuid.uuid4().hex[:16]
            while node_id in self._nodes:
                node_id = uuid.uuid4().hex[:16]
            # strictly increasing, so the order survives a rebuild from the journal
            created = max(time.time(), self._last_created + 1e-6)
            node = Node(node_id, parent_ids, kind.strip(), recipe, image, created)
            try:
                self._journal.write(node, deleted=False)
            except OSError as exc:
                raise ProjectError(f"could not save the node in {self.path}: {exc.strerror or exc}") from exc
            try:
                self._insert_rows([(node, False)])
            except ProjectError:
                self._journal.remove(node_id)  # never half-committed: no row, so no journal either
                raise
            self._index(node, False)
            return node

    def repair_journal(self, node_ids: Iterable[str]) -> None:
        """Rewrite the journal files of `node_ids` from the database's records (found damaged)."""
        self._check_writable()
        with self._mutex:
            entries = [(self.node(i), i in self._deleted) for i in node_ids]
            try:
                self._journal.write_many(entries)
            except OSError as exc:
                raise ProjectError(
                    f"could not repair the journal in {self.path}: {exc.strerror or exc}"
                ) from exc

    def set_starred(self, node_id: str, starred: bool) -> Node:
        return self._update(node_id, starred=bool(starred))

    def set_note(self, node_id: str, note: str) -> Node:
        if not isinstance(note, str):
            raise ProjectError(f"a note must be text, not {type(note).__name__}")
        if len(note) > MAX_NOTE_CHARS:
            raise ProjectError(
                f"a note can hold at most {MAX_NOTE_CHARS} characters, this one has {len(note)}"
            )
        return self._update(node_id, note=ensure_writable_text(note, "the note"))

    def delete_node(self, node_id: str) -> None:
        """Move a node to the trash; its children stay and show as roots."""
        self._update(node_id, deleted=True)

    def restore_node(self, node_id: str) -> Node:
        """Bring a node back from the trash."""
        return self._update(node_id, deleted=False)

    def meta_set(self, key: str, value: Any) -> None:
        """Save a small JSON value (current node, panel layout, undo stack) with the project."""
        self.meta_set_many({key: value})

    def meta_set_many(self, values: dict[str, Any]) -> None:
        """Save several values in one transaction: after a crash either all are new or none."""
        self._check_writable()
        statements = []
        for key, value in values.items():
            if not isinstance(key, str) or not key or len(key) > MAX_META_KEY_CHARS:
                raise ProjectError(
                    f"a meta key must be a non-empty string of up to {MAX_META_KEY_CHARS} characters"
                )
            try:
                text = json.dumps(value, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ProjectError(f"the value for {key!r} cannot be saved as JSON: {exc}") from exc
            ensure_writable_text(text, f"the value for {key!r}")
            ensure_writable_text(key, "the meta key")
            statements.append(("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, text)))
        with self._mutex:
            self._execute_write(statements)

    # ---------------------------------------------------------------- internals
    def _require_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"the project {self.name} is closed")
        return self._conn

    def _check_writable(self) -> None:
        self._require_conn()
        if self.readonly:
            raise ProjectError(f"the project {self.path} is read-only; nothing can be changed")

    def _check_parents(self, parents: Iterable[str] | str | None) -> tuple[str, ...]:
        if parents is None:
            return ()
        if isinstance(parents, str):
            parents = (parents,)
        try:
            ids = tuple(dict.fromkeys(parents))
        except TypeError as exc:
            raise ProjectError(f"parents must be a list of node ids: {exc}") from exc
        with self._mutex:
            for pid in ids:
                if not isinstance(pid, str) or pid not in self._nodes:
                    raise ProjectError(f"parent node {pid!r} does not exist in the project {self.name}")
                if pid in self._deleted:
                    raise ProjectError(f"parent node {pid!r} is in the trash; restore it first")
        return ids

    def _update(self, node_id: str, deleted: bool | None = None, **changes: Any) -> Node:
        self._check_writable()
        with self._mutex:
            self._check_writable()
            old = self.node(node_id)
            node = dataclasses.replace(old, **changes)
            is_deleted = (node_id in self._deleted) if deleted is None else deleted
            try:
                self._journal.write(node, is_deleted)
            except OSError as exc:
                raise ProjectError(
                    f"could not save the change in {self.path}: {exc.strerror or exc}"
                ) from None
            self._execute_write(
                [
                    (
                        "UPDATE nodes SET starred = ?, note = ?, deleted = ? WHERE id = ?",
                        (int(node.starred), node.note, int(is_deleted), node_id),
                    )
                ]
            )
            self._nodes[node_id] = node
            if is_deleted:
                self._deleted.add(node_id)
            else:
                self._deleted.discard(node_id)
            return node

    def _insert_rows(self, entries: list[tuple[Node, bool]]) -> None:
        sql = (
            "INSERT OR REPLACE INTO nodes "
            "(id, parents, kind, recipe, image, created, starred, note, deleted) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._execute_write(
            [
                (
                    sql,
                    (
                        n.id,
                        json.dumps(list(n.parents)),
                        n.kind,
                        n.recipe.to_json(),
                        n.image,
                        n.created,
                        int(n.starred),
                        n.note,
                        int(d),
                    ),
                )
                for n, d in entries
            ]
        )

    def _execute_write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Run statements in one transaction; errors become ProjectError and change nothing."""
        with self._mutex:
            conn = self._require_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        conn.execute(sql, params)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise ProjectError(f"could not save to {self.path / DB_NAME}: {exc}") from exc

    def _index(self, node: Node, deleted: bool) -> None:
        self._nodes[node.id] = node
        if deleted:
            self._deleted.add(node.id)
        for pid in node.parents:
            self._children.setdefault(pid, []).append(node.id)
        self._last_created = max(self._last_created, node.created)
