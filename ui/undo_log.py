"""The undo stack survives a restart: its history edits are mirrored into project meta.

Every time the stack changes, the records of its Replayable commands (star, note, tags, trash,
generate) and whether each is done are saved as JSON under `undo.log`. Opening the project
rebuilds those commands with their next redo/undo skipped — the project already holds their
effects — so Edit ▸ Undo continues exactly where the last session stopped (also after a crash:
the log is written before the edit's effect is announced). Paint strokes are in the log too:
their changed boxes are project assets, and they apply to the canvas contents saved with them
(the paint controller restores the canvas and its token).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from PySide6.QtGui import QUndoStack

from studio.project.store import NodeNotFoundError, Project, ProjectError
from ui.canvas_commands import PatchCommand, PatchTarget
from ui.commands import GenerateCommand, NoteCommand, Refresh, Replayable, StarCommand, TrashCommand
from ui.tag_command import ShowTags, TagCommand

log = logging.getLogger(__name__)
META_KEY = "undo.log"
LIMIT = 200


def _command(
    project: Project, record: dict, refresh: Refresh, show_tags: ShowTags, canvas: PatchTarget | None
) -> Replayable:
    kind = record["type"]
    if kind == "patch" and canvas is not None:
        return PatchCommand.from_record(canvas, record, project.assets.get)
    if kind == "star":
        return StarCommand(project, record["id"], bool(record["new"]), refresh, old=bool(record["old"]))
    if kind == "note":
        return NoteCommand(project, record["id"], str(record["new"]), refresh, old=str(record["old"]))
    if kind == "tags":
        return TagCommand(project, record["id"], list(record["new"]), show_tags, old=list(record["old"]))
    if kind == "trash":
        return TrashCommand(project, list(record["ids"]), refresh, text=str(record.get("text", "Delete")))
    if kind == "generate":
        return GenerateCommand(project, list(record["ids"]), refresh)
    raise ValueError(f"unknown undo record type {kind!r}")


class UndoLog:
    """Saves and restores the window's undo stack for the open project."""

    def __init__(
        self, stack: QUndoStack, project: Callable[[], Project], canvas: PatchTarget | None = None
    ) -> None:
        self.stack = stack
        self.project = project
        self.canvas = canvas
        self._restoring = False
        self._closed = False
        stack.setUndoLimit(LIMIT)
        stack.indexChanged.connect(self.save)

    def close(self) -> None:
        """Stop mirroring (the window closes; the stack is destroyed after the project closed)."""
        if not self._closed:
            self._closed = True
            self.stack.indexChanged.disconnect(self.save)

    def save(self, *_args) -> None:
        if self._restoring:
            return
        records = []
        try:
            for i in range(self.stack.count()):
                command = self.stack.command(i)
                record = command.record() if isinstance(command, Replayable) else None
                if record is not None:
                    records.append({**record, "done": i < self.stack.index()})
            self.project().meta_set(META_KEY, json.dumps(records))
        except ProjectError as exc:  # read-only or closed project: undo still works in this session
            log.info("undo log not saved: %s", exc)

    def restore(self, refresh: Refresh, show_tags: ShowTags) -> int:
        """Rebuild the saved stack; returns how many commands came back (damaged entries are skipped)."""
        project = self.project()
        self._restoring = True
        try:
            self.stack.clear()  # the previous project's commands (not saved over the new one's log)
        finally:
            self._restoring = False
        try:
            records = json.loads(project.meta_get(META_KEY) or "[]")
        except ValueError:
            log.warning("the saved undo history is damaged; starting a fresh one")
            return 0
        commands: list[tuple[Replayable, bool]] = []
        for record in records if isinstance(records, list) else []:
            try:
                command = _command(project, record, refresh, show_tags, self.canvas)
                commands.append((command, bool(record.get("done"))))
            except (KeyError, TypeError, ValueError, OSError, NodeNotFoundError, ProjectError) as exc:
                log.warning("skipping a saved undo step: %s", exc)
        self._restoring = True
        try:
            for command, _done in commands:
                command.skip = 1  # push() redoes: the project already has the effect
                self.stack.push(command)
            done = sum(1 for _, is_done in commands if is_done)
            for command, is_done in commands:
                if not is_done:
                    command.skip = 1  # setIndex() undoes these: already undone in the project
            self.stack.setIndex(done)
        finally:
            self._restoring = False
        return len(commands)
