"""Dark theme: Fusion style + a dark palette + a little QSS for the custom widgets."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

ACCENT = "#5b9cf5"
BG = "#1e1f22"
PANEL = "#26282c"
BASE = "#17181a"
TEXT = "#e3e5e8"
MUTED = "#9aa0a8"

QSS = f"""
QToolTip {{ color: {TEXT}; background: {PANEL}; border: 1px solid #3a3d42; padding: 4px; }}
QSplitter::handle {{ background: {BG}; }}
QLineEdit, QPlainTextEdit {{
    border: 1px solid #3a3d42; border-radius: 4px; padding: 4px 6px; background: {BASE};
}}
QLineEdit:focus {{ border-color: {ACCENT}; }}
QPushButton {{ border: 1px solid #3a3d42; border-radius: 4px; padding: 5px 12px; background: {PANEL}; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton#primary {{ background: {ACCENT}; color: #0d1117; font-weight: 600; border: none; }}
QPushButton#primary:hover {{ background: #79b0ff; }}
QPushButton#chip {{ border-radius: 12px; padding: 3px 10px; background: #2f3237; }}
QPushButton#chip:hover {{ background: #3a4a63; }}
QToolButton {{ border: 1px solid transparent; border-radius: 4px; padding: 3px; }}
QToolButton:hover {{ border-color: #3a3d42; background: {PANEL}; }}
QTreeWidget, QListWidget {{ background: {BASE}; border: 1px solid #2c2e33; border-radius: 4px; }}
QTreeWidget::item:selected, QListWidget::item:selected {{ background: #2d4a75; color: {TEXT}; }}
QLabel#heading {{ font-size: 15pt; font-weight: 600; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#warning {{ color: #f0b85a; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QGraphicsView {{ background: {BASE}; border: 1px solid #2c2e33; border-radius: 4px; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    colors = {
        QPalette.ColorRole.Window: BG,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Highlight: "#2d4a75",
        QPalette.ColorRole.HighlightedText: TEXT,
        QPalette.ColorRole.PlaceholderText: "#6b7078",
    }
    for role, value in colors.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d6168"))
    app.setPalette(pal)
    app.setStyleSheet(QSS)


def set_tooltip_deep(widget: QWidget, text: str) -> None:
    """A tooltip on a compound widget and its parts (superqt's labeled sliders have an inner spin box)."""
    widget.setToolTip(text)
    for child in widget.findChildren(QWidget):
        child.setToolTip(text)
