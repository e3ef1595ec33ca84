"""Undoable edits of the history (Anki / krita style: every user edit is a command).

Generating cannot be "un-rendered", so undoing it moves its nodes to the trash (kept on disk,
restorable), which is also what deleting does. Each command can describe itself as a plain
record, so the undo stack is saved in the project and survives a restart (ui/undo_log.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from studio.project.store import Project

Refresh = Callable[[list[str]], None]  # called with the node ids whose state changed


class Replayable(QUndoCommand):
    """A command that can skip its next redo/undo: used when the saved stack is rebuilt, since the
    project already holds the effect of every command (done or undone)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.skip = 0

    def redo(self) -> None:
        if self.skip:
            self.skip -= 1
            return
        self.apply(True)

    def undo(self) -> None:
        if self.skip:
            self.skip -= 1
            return
        self.apply(False)

    def apply(self, forward: bool) -> None:
        raise NotImplementedError

    def record(self) -> dict[str, Any] | None:
        """A plain-JSON description for the saved undo log (None: this one is not saved)."""
        raise NotImplementedError


class StarCommand(Replayable):
    def __init__(
        self, project: Project, node_id: str, starred: bool, refresh: Refresh, old: bool | None = None
    ) -> None:
        super().__init__("Star" if starred else "Unstar")
        self._project, self._id, self._new, self._refresh = project, node_id, starred, refresh
        self._old = project.node(node_id).starred if old is None else old

    def apply(self, forward: bool) -> None:
        self._project.set_starred(self._id, self._new if forward else self._old)
        self._refresh([self._id])

    def record(self) -> dict[str, Any]:
        return {"type": "star", "id": self._id, "new": self._new, "old": self._old}


class NoteCommand(Replayable):
    def __init__(
        self, project: Project, node_id: str, note: str, refresh: Refresh, old: str | None = None
    ) -> None:
        super().__init__("Edit note")
        self._project, self._id, self._new, self._refresh = project, node_id, note, refresh
        self._old = project.node(node_id).note if old is None else old

    def apply(self, forward: bool) -> None:
        self._project.set_note(self._id, self._new if forward else self._old)
        self._refresh([self._id])

    def record(self) -> dict[str, Any]:
        return {"type": "note", "id": self._id, "new": self._new, "old": self._old}


class TrashCommand(Replayable):
    """Move nodes to the trash; undo restores them."""

    def __init__(self, project: Project, node_ids: list[str], refresh: Refresh, text: str = "Delete") -> None:
        super().__init__(text)
        self._project, self._ids, self._refresh = project, list(node_ids), refresh

    def apply(self, forward: bool) -> None:
        (_trash if forward else _restore)(self._project, self._ids)
        self._refresh(self._ids)

    def record(self) -> dict[str, Any]:
        return {"type": "trash", "ids": self._ids, "text": self.text()}


class GenerateCommand(Replayable):
    """Pushed after the worker committed the nodes: the first redo is a no-op, undo trashes them."""

    def __init__(self, project: Project, node_ids: list[str], refresh: Refresh) -> None:
        super().__init__("Generate")
        self._project, self._ids, self._refresh = project, list(node_ids), refresh
        self.skip = 1

    def apply(self, forward: bool) -> None:
        (_restore if forward else _trash)(self._project, self._ids)
        self._refresh(self._ids)

    def record(self) -> dict[str, Any]:
        return {"type": "generate", "ids": self._ids}


def _trash(project: Project, ids: list[str]) -> None:
    for node_id in ids:
        project.delete_node(node_id)


def _restore(project: Project, ids: list[str]) -> None:
    for node_id in reversed(ids):
        project.restore_node(node_id)
