"""Undoable edits of the history (Anki / krita style: every user edit is a command).

Generating cannot be "un-rendered", so undoing it moves its nodes to the trash (kept on disk,
restorable), which is also what deleting does.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from studio.project.store import Project

Refresh = Callable[[list[str]], None]  # called with the node ids whose state changed


class StarCommand(QUndoCommand):
    def __init__(self, project: Project, node_id: str, starred: bool, refresh: Refresh) -> None:
        super().__init__("Star" if starred else "Unstar")
        self._project, self._id, self._new, self._refresh = project, node_id, starred, refresh
        self._old = project.node(node_id).starred

    def redo(self) -> None:
        self._project.set_starred(self._id, self._new)
        self._refresh([self._id])

    def undo(self) -> None:
        self._project.set_starred(self._id, self._old)
        self._refresh([self._id])


class NoteCommand(QUndoCommand):
    def __init__(self, project: Project, node_id: str, note: str, refresh: Refresh) -> None:
        super().__init__("Edit note")
        self._project, self._id, self._new, self._refresh = project, node_id, note, refresh
        self._old = project.node(node_id).note

    def redo(self) -> None:
        self._project.set_note(self._id, self._new)
        self._refresh([self._id])

    def undo(self) -> None:
        self._project.set_note(self._id, self._old)
        self._refresh([self._id])


class TrashCommand(QUndoCommand):
    """Move nodes to the trash; undo restores them."""

    def __init__(self, project: Project, node_ids: list[str], refresh: Refresh, text: str = "Delete") -> None:
        super().__init__(text)
        self._project, self._ids, self._refresh = project, list(node_ids), refresh

    def redo(self) -> None:
        _trash(self._project, self._ids)
        self._refresh(self._ids)

    def undo(self) -> None:
        _restore(self._project, self._ids)
        self._refresh(self._ids)


class GenerateCommand(QUndoCommand):
    """Pushed after the worker committed the nodes: the first redo is a no-op, undo trashes them."""

    def __init__(self, project: Project, node_ids: list[str], refresh: Refresh) -> None:
        super().__init__("Generate")
        self._project, self._ids, self._refresh = project, list(node_ids), refresh
        self._first = True

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        _restore(self._project, self._ids)
        self._refresh(self._ids)

    def undo(self) -> None:
        _trash(self._project, self._ids)
        self._refresh(self._ids)


def _trash(project: Project, ids: list[str]) -> None:
    for node_id in ids:
        project.delete_node(node_id)


def _restore(project: Project, ids: list[str]) -> None:
    for node_id in reversed(ids):
        project.restore_node(node_id)
