"""Accessible names for compound widgets, and the audit the tests run over the whole window.

Screen readers announce a widget by its accessible name (or its text); superqt's labeled sliders
are a slider plus a spin box, and only the wrapper gets a name from our code, so the parts are
named here from it. The audit lists every control a keyboard or screen-reader user would meet
without a name, a tooltip or Tab focus (Qt's own internals such as scroll bars are left out).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

CONTROLS = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractSlider,
    QAbstractSpinBox,
    QAbstractItemView,
    QPlainTextEdit,
    QTextEdit,
)
_QT_INTERNAL_NAMES = ("qt_", "ScrollLeftButton", "ScrollRightButton")
KEYBOARD = "keyboard"  # widget property: the key that does its job where Tab cannot reach it


def name_parts(root: QWidget) -> None:
    """Give the slider and value box inside each labeled slider the wrapper's name and tooltip."""
    for wrapper in root.findChildren(QLabeledSlider) + root.findChildren(QLabeledDoubleSlider):
        name = wrapper.accessibleName()
        if not name:
            continue
        for part in wrapper.findChildren(QWidget):
            if isinstance(part, QAbstractSlider):
                part.setAccessibleName(name)
            elif isinstance(part, QAbstractSpinBox | QLineEdit):
                part.setAccessibleName(f"{name} value")
            if not part.toolTip():
                part.setToolTip(wrapper.toolTip())


def _internal(widget: QWidget) -> bool:
    """Parts Qt builds and names itself (scroll bars, headers, dock title buttons, popups)."""
    if isinstance(widget, QScrollBar | QHeaderView) or widget.objectName().startswith(_QT_INTERNAL_NAMES):
        return True
    parent = widget.parentWidget()
    if isinstance(parent, QLineEdit | QAbstractSpinBox) and not isinstance(widget, QAbstractSpinBox):
        return True  # a line edit's clear button, a spin box's editor
    return (
        isinstance(widget, QAbstractItemView)
        and parent is not None
        and parent.inherits("QComboBoxPrivateContainer")
    )


def _value_box(widget: QWidget) -> bool:
    """The value box of a labeled slider: its slider takes the keys, the box takes clicks."""
    return isinstance(widget.parentWidget(), QLabeledSlider | QLabeledDoubleSlider) and not isinstance(
        widget, QAbstractSlider
    )


def audit(root: QWidget) -> list[str]:
    """Every problem found, one line each ("QPushButton 'Play': no tooltip")."""
    problems = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or _internal(widget):
            continue
        text = widget.text() if isinstance(widget, QAbstractButton) else ""
        label = widget.accessibleName() or text.replace("&", "").strip()
        missing = []
        if not label:
            missing.append("no accessible name")
        if not widget.toolTip():
            missing.append("no tooltip")
        tab = widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        if not tab and not _value_box(widget) and not widget.property(KEYBOARD):
            missing.append("not reachable with Tab")
        if missing:
            problems.append(f"{type(widget).__name__} {label or widget.objectName()!r}: {', '.join(missing)}")
    for action in root.findChildren(QAction):
        if not action.text() or not action.isEnabled() or action.isSeparator():
            continue
        if isinstance(action.parent(), QMenu):
            continue  # entries of popup menus (recent prompts) are reached with arrow keys
        if not action.shortcut().toString() and "&" not in action.text():
            problems.append(f"action {action.text()!r}: no shortcut and no mnemonic")
    return problems
