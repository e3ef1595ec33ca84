"""Geometry checks for layout tests: what a user would see cut off, clipped or scrolled sideways."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractScrollArea, QDockWidget, QLabel, QLineEdit, QWidget


def _out_of_sight(widget: QWidget, top: QWidget) -> bool:
    """Inside a scroll area's viewport (clipped by design: only the scroll area itself counts) or
    in a dock panel whose tab is not in front."""
    parent = widget.parentWidget()
    while parent is not None and parent is not top:
        holder = parent.parentWidget()
        if isinstance(holder, QAbstractScrollArea) and parent is holder.viewport():
            return True
        if isinstance(parent, QDockWidget) and parent.visibleRegion().isEmpty():
            return True
        parent = holder
    return isinstance(widget, QDockWidget) and widget.visibleRegion().isEmpty()


def outside(window: QWidget) -> list[str]:
    """Visible widgets that do not lie wholly inside the window, as 'Class name rect' lines."""
    bounds = QRect(0, 0, window.width(), window.height())
    found = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or widget.isWindow() or _out_of_sight(widget, window):
            continue
        rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
        if not bounds.contains(rect):
            found.append(f"{type(widget).__name__} {widget.objectName() or widget.accessibleName()} {rect}")
    return found


def cut_labels(window: QWidget) -> list[str]:
    """Visible word-wrapped labels too short for their text (a sentence cut off at the bottom)."""
    return [
        label.text()[:40]
        for label in window.findChildren(QLabel)
        if label.isVisible() and label.wordWrap() and label.height() < label.heightForWidth(label.width())
    ]


def placeholder_fits(edit: QLineEdit) -> bool:
    """The whole placeholder text fits in the field (not "S…")."""
    margins = edit.textMargins()
    room = edit.contentsRect().width() - margins.left() - margins.right() - 8
    return edit.fontMetrics().horizontalAdvance(edit.placeholderText()) <= room
