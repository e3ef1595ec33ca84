"""Undoable tag edits, the same pattern as NoteCommand (tags live in project meta, not the node)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.project.store import Project
from studio.project.tags import get_tags, normalize_tags, set_tags
from ui.commands import Replayable

ShowTags = Callable[[str, list[str]], None]  # called with the node id and its tags now in effect


class TagCommand(Replayable):
    """Replace a node's tags; undo puts the old ones back.

    The tags are checked when the command is made, so a bad list raises TagError before it
    reaches the undo stack.
    """

    def __init__(
        self, project: Project, node_id: str, tags: list[str], show: ShowTags, old: list[str] | None = None
    ) -> None:
        super().__init__("Edit tags")
        self._project, self._id, self._show = project, node_id, show
        self._new = normalize_tags(tags)
        self._old = get_tags(project, node_id) if old is None else normalize_tags(old)

    def apply(self, forward: bool) -> None:
        self._show(self._id, set_tags(self._project, self._id, self._new if forward else self._old))

    def record(self) -> dict[str, Any]:
        return {"type": "tags", "id": self._id, "new": self._new, "old": self._old}
