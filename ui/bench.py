"""UI figures for `studio bench --ui`: a 10,000-node project opened in the real window, scrolling
its history, and the largest UI heartbeat gap (a 10 ms QTimer) while generating, painting live
and with sound driving live edits.

Run as `python -m ui.bench --json out.json` (studio bench starts it in a subprocess, so the core
never imports Qt). Offscreen unless a display is set. Nothing here asserts: figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.audio.io import SAMPLE_RATE, write_wav
from studio.bench import make_big_project
from studio.project.store import Project
from studio.world.classes import CLASS_INDEX
from studio.world.sounds import synth
from ui.main_window import MainWindow
from ui.settings import Settings

WAIT_S = 300.0


def _wait(app: QApplication, done: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    end = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.002)


class Heartbeat:
    """A 10 ms timer on the UI thread: the largest gap between ticks is how long the UI froze."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._timer = QTimer(interval=10, timeout=lambda: self.ticks.append(time.perf_counter()))

    def __enter__(self) -> Heartbeat:
        self.ticks.clear()
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.stop()

    def largest_gap_ms(self) -> float:
        gaps = [b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False)]
        return round(max(gaps, default=0.0) * 1000.0, 1)


def open_big_project(app: QApplication, folder: Path, nodes: int) -> tuple[dict, MainWindow]:
    """Time from opening the project file to its history shown (10,000 rows, first rows painted),
    with the window built from scratch (the app's start: first fonts, styles and widgets)."""
    built = make_big_project(folder, nodes)
    start = time.perf_counter()
    project = Project.open(folder)
    opened = time.perf_counter()
    window = MainWindow(project, Settings(count=8, size=128))
    window.resize(1280, 800)
    window.show()
    _wait(app, lambda: len(window.history.node_ids()) == nodes, "the history")
    window.history.tree.viewport().repaint()
    app.processEvents()
    shown = time.perf_counter()
    return {
        "nodes": nodes,
        "build_s_without_fsync": round(built, 1),
        "store_open_s": round(opened - start, 3),
        "open_to_history_shown_s": round(shown - start, 3),
    }, window


def reopen_in_running_app(app: QApplication, window: MainWindow, folder: Path, nodes: int) -> float:
    """File ▸ Open of the big project in a window that is already up (fonts, styles, models warm)."""
    window.open_project(folder.parent / "small")
    app.processEvents()
    start = time.perf_counter()
    window.open_project(folder)
    _wait(app, lambda: len(window.history.node_ids()) == nodes, "the history")
    window.history.tree.viewport().repaint()
    app.processEvents()
    return round(time.perf_counter() - start, 3)


def scroll_history(app: QApplication, window: MainWindow) -> dict:
    """Page through the whole history, repainting each page: ms per page (what a flick costs)."""
    tree = window.history.tree
    bar = tree.verticalScrollBar()
    times = []
    bar.setValue(0)
    while True:
        start = time.perf_counter()
        bar.setValue(bar.value() + bar.pageStep())
        tree.viewport().repaint()
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000.0)
        if bar.value() >= bar.maximum():
            break
    return {
        "pages": len(times),
        "ms_per_page_median": round(statistics.median(times), 2),
        "ms_per_page_max": round(max(times), 2),
        "thumbnails_made": window.history.icons_made(),
    }


def heartbeat_figures(app: QApplication, window: MainWindow, tmp: Path) -> dict:
    """Largest UI gap while a batch of 8 generates, while painting, and while sound drives live edits."""
    _wait(app, lambda: window.info is not None, "the models to load")
    result: dict = {}
    with Heartbeat() as beat:
        shown: list[list[str]] = []
        window.batch_shown.connect(shown.append)
        window.prompt_panel.prompt.setText("a misty lake under snowy mountains")
        window.generate()
        _wait(app, lambda: bool(shown), "a batch")
    result["generating_batch8_ms"] = beat.largest_gap_ms()
    window.select_node(shown[0][0])
    window.show_paint()
    canvas = window.paint.canvas
    previews: list[int] = []
    window.worker.preview.connect(lambda stamp, _image, _recipe: previews.append(stamp))
    _wait(app, canvas.isVisible, "the canvas")
    canvas.current_class, canvas.brush_size = CLASS_INDEX["water"], 40
    with Heartbeat() as beat:
        for y in range(20, 240, 20):
            _drag(app, canvas, (10, y), (240, y + 10))
        _wait(app, lambda: len(previews) >= 3, "live paint previews")
    result["painting_live_ms"] = beat.largest_gap_ms()
    wav = tmp / "rain.wav"
    write_wav(wav, synth("heavy_rain", np.random.default_rng(1), seconds=4.0), SAMPLE_RATE)
    panel = window.sound.panel
    panel.load_file(wav)
    with Heartbeat() as beat:
        start = len(previews)
        panel.live_button.click()
        _wait(app, lambda: len(previews) >= start + 20, "live sound frames")
        panel.live_button.click()
    result["live_sound_ms"] = beat.largest_gap_ms()
    return result


def _drag(app: QApplication, canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A hand-speed stroke: 12 moves with the event loop running between them."""
    points = [canvas.widget_pos(QPoint(*map(int, p)).toPointF()).toPoint() for p in (start, end)]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for t in np.linspace(0.0, 1.0, 12)[1:]:
        QTest.mouseMove(canvas, points[0] + (points[1] - points[0]) * float(t))
        app.processEvents()
        time.sleep(0.01)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[1])
    app.processEvents()


def run(nodes: int) -> dict:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        figures, window = open_big_project(app, Path(tmp) / "big", nodes)
        result = {"project_open": figures, "history_scroll": scroll_history(app, window)}
        figures["reopen_in_running_app_s"] = reopen_in_running_app(app, window, Path(tmp) / "big", nodes)
        window.close()
        app.processEvents()
        fresh = MainWindow(Project.open(Path(tmp) / "fresh"), Settings(count=8, size=128))
        fresh.resize(1280, 800)
        fresh.show()
        result["ui_heartbeat_largest_gap"] = heartbeat_figures(app, fresh, Path(tmp))
        fresh.close()
        app.processEvents()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--nodes", type=int, default=10_000, help="nodes of the generated project")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = run(max(1, args.nodes))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
