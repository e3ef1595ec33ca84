"""Thumbnails decoded and scaled off the UI thread, cached by image id.

The history asks for a node's icon when its row is first painted; scrolling through thousands
of nodes must not stall on PNG decoding, so the first request returns a neutral placeholder and
a pool thread decodes and scales the image (QImage is safe off the UI thread, QPixmap is not).
`ready(image_id)` then tells the window to repaint the rows that show it. On high-DPI screens
thumbnails are made at `size × device pixel ratio` pixels, so they stay sharp at 150–200 %.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPixmap


class _Decoded(QObject):
    done = Signal(str, QImage)


class _Job(QRunnable):
    def __init__(self, sha: str, read: Callable[[str], bytes], size: int, out: _Decoded) -> None:
        super().__init__()
        self.sha, self.read, self.size, self.out = sha, read, size, out

    def run(self) -> None:
        try:
            image = QImage.fromData(self.read(self.sha))
        except (OSError, KeyError):  # a missing asset keeps the placeholder
            return
        if not image.isNull():
            scaled = image.scaled(
                self.size,
                self.size,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.out.done.emit(self.sha, scaled)


class Thumbnails(QObject):
    """icon(image_id) → the cached thumbnail, or a placeholder while a pool thread makes it."""

    ready = Signal(str)  # image id whose thumbnail is now cached

    def __init__(
        self,
        read: Callable[[str], bytes],
        size: int,
        parent: QObject | None = None,
        ratio: float | None = None,
    ) -> None:
        super().__init__(parent)
        self.read, self.size = read, size
        screen = QGuiApplication.primaryScreen()
        self.ratio = ratio or (screen.devicePixelRatio() if screen is not None else 1.0)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._icons: dict[str, QIcon] = {}
        self._pending: set[str] = set()
        self._decoded = _Decoded()
        self._decoded.done.connect(self._store)  # queued: emitted from pool threads
        placeholder = QPixmap(self._pixels(), self._pixels())
        placeholder.setDevicePixelRatio(self.ratio)
        placeholder.fill(QColor(48, 52, 58))
        self.placeholder = QIcon(placeholder)

    def icon(self, sha: str) -> QIcon:
        cached = self._icons.get(sha)
        if cached is not None:
            return cached
        if sha not in self._pending:
            self._pending.add(sha)
            self.pool.start(_Job(sha, self.read, self._pixels(), self._decoded))
        return self.placeholder

    def _pixels(self) -> int:
        return max(1, round(self.size * self.ratio))

    def has(self, sha: str) -> bool:
        return sha in self._icons

    def clear(self, read: Callable[[str], bytes]) -> None:
        """Another project: forget everything (pending jobs' results are dropped by _store)."""
        self.pool.clear()
        self.read = read
        self._icons.clear()
        self._pending.clear()

    def _store(self, sha: str, image: QImage) -> None:
        if sha not in self._pending:
            return
        self._pending.discard(sha)
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.ratio)
        self._icons[sha] = QIcon(pixmap)
        self.ready.emit(sha)
