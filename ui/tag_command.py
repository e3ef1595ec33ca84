"""Undoable tag edits, the same pattern as NoteCommand (tags live in project meta, not the node)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from studio.project.store import Project
from studio.project.tags import get_tags, normalize_tags, set_tags

ShowTags = Callable[[str, list[str]], None]  # called with the node id and its tags now in effect


class TagCommand(QUndoCommand):
    """Replace a node's tags; undo puts the old ones back.

    The tags are checked when the command is made, so a bad list raises TagError before it
    reaches the undo stack.
    """

    def __init__(self, project: Project, node_id: str, tags: list[str], show: ShowTags) -> None:
        super().__init__("Edit tags")
        self._project, self._id, self._show = project, node_id, show
        self._new = normalize_tags(tags)
        self._old = get_tags(project, node_id)

    def redo(self) -> None:
        self._show(self._id, set_tags(self._project, self._id, self._new))

    def undo(self) -> None:
        self._show(self._id, set_tags(self._project, self._id, self._old))
