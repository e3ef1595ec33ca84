"""How a match score looks next to a result: a small coloured pill ("2/3") and a tooltip in words.

Green when the picture shows everything the prompt asked for, amber when it shows at least half,
red below that; the tooltip says what the picture shows and which asked-for item it missed.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter

from studio.describe.node_match import NodeMatch

GOOD, PARTLY, MISSED = QColor("#2e7d32"), QColor("#b26a00"), QColor("#c62828")
PAD = 4  # pixels around the text inside the pill


def badge_colour(found: NodeMatch) -> QColor:
    score = found.match.score
    if score is None:
        return QColor("#616161")
    return GOOD if score >= 0.999 else PARTLY if score >= 0.5 else MISSED


def badge_width(metrics: QFontMetrics, found: NodeMatch) -> int:
    return metrics.horizontalAdvance(found.match.badge()) + 2 * PAD


def paint_badge(painter: QPainter, area: QRect, found: NodeMatch, corner: Qt.Corner) -> QRect:
    """Draw the pill in `corner` of `area`; returns where it went."""
    metrics = painter.fontMetrics()
    width, height = badge_width(metrics, found), metrics.height() + 2
    right = corner in (Qt.Corner.TopRightCorner, Qt.Corner.BottomRightCorner)
    bottom = corner in (Qt.Corner.BottomLeftCorner, Qt.Corner.BottomRightCorner)
    x = area.right() - width - 2 if right else area.left() + 2
    y = area.bottom() - height - 2 if bottom else area.top() + (area.height() - height) // 2
    pill = QRect(x, y, width, height)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(badge_colour(found))
    painter.drawRoundedRect(QRectF(pill), height / 2, height / 2)
    painter.setPen(QColor("white"))
    painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, found.match.badge())
    painter.restore()
    return pill


def with_match(tooltip: str, found: NodeMatch | None) -> str:
    """A result's tooltip with what its picture shows and how that matches its prompt (as it was
    while the match is not known)."""
    if found is None:
        return tooltip
    shows = f"Shows: {found.caption}\nPrompt match: {found.match.summary()}\n(read by {found.model})"
    return f"{tooltip}\n{shows}"
