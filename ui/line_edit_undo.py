"""Ctrl+Z in a field with nothing of its own to undo reaches the window's Edit ▸ Undo.

A QLineEdit claims the undo keys even when its own history is empty, so after a note was saved
(Enter) the next Ctrl+Z was swallowed by the field and the saved note and star stayed in the
history row. Fields that save on Enter install this filter: unsaved typing still undoes in the
field, everything else goes to the undo stack.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLineEdit


class PassUndoWhenClean(QObject):
    """Event filter for QLineEdits: lets the undo/redo shortcuts through when the field can't use them."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        override = isinstance(event, QKeyEvent) and event.type() == QEvent.Type.ShortcutOverride
        if override and isinstance(watched, QLineEdit):
            undo = event.matches(QKeySequence.StandardKey.Undo) and not watched.isUndoAvailable()
            redo = event.matches(QKeySequence.StandardKey.Redo) and not watched.isRedoAvailable()
            if undo or redo:
                event.ignore()  # not overridden: the window's shortcut fires
                return True
        return super().eventFilter(watched, event)
