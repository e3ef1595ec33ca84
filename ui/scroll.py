"""A dock panel's contents in a scroll area, so a short window scrolls the panel instead of
cutting its buttons off (issue 18: the right dock ran past the window edge at 1280×800)."""

from __future__ import annotations

from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget


def scroll_body(owner: QWidget, inner: QWidget) -> None:
    """Make `inner` the scrolling body of `owner`, edge to edge."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(inner)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
