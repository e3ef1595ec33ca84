"""A match score next to every result (issue 19): the shipped captioner reads each new picture in the
worker; the grid tile and the history row show a coloured pill and say in their tooltips what the
picture shows against the prompt; the caption is kept in the project, so a reopened project is not
described again; the setting turns scores off; without anything to caption with, nothing breaks."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget
from ui_helpers import RENDER_MS, generate, open_window

from studio.describe.match import match_score
from studio.describe.node_match import caption_key, stored_caption
from studio.paths import REPO_ROOT
from studio.project.store import Project
from ui.history_panel import NODE_ROLE
from ui.main_window import MainWindow
from ui.match_badge import badge_colour

SHIPPED = REPO_ROOT / "exported_models"
PROMPT = "a calm lake at night"


@pytest.fixture
def captioner_env(studio_env: Path) -> Path:
    """The tiny generator with the shipped captioner installed as a user model."""
    if not (SHIPPED / "captioner64.json").is_file():
        pytest.skip("no shipped captioner")
    models = studio_env / "models"
    models.mkdir(parents=True)
    for path in SHIPPED.glob("captioner64.*"):
        shutil.copy(path, models / path.name)
    return studio_env


@pytest.fixture
def match_window(qtbot, captioner_env: Path, project_dir: Path) -> Iterator[MainWindow]:
    win = open_window(qtbot, project_dir)
    yield win
    win.close()


def _colour_shown(widget: QWidget, colour) -> int:
    """How many pixels of `widget` as painted have exactly the pill's colour."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    want = colour.rgb()
    return sum(image.pixel(x, y) == want for y in range(image.height()) for x in range(image.width()))


def _scored(qtbot, win: MainWindow, ids: list[str]) -> list:
    nodes = [win.project.node(i) for i in ids]
    qtbot.waitUntil(lambda: all(win.matches.match(n) is not None for n in nodes), timeout=RENDER_MS)
    return [win.matches.match(n) for n in nodes]


def test_every_result_shows_its_match_in_the_grid_and_the_history(qtbot, match_window: MainWindow) -> None:
    win = match_window
    ids = generate(qtbot, win, PROMPT, seed=1)
    found = _scored(qtbot, win, ids)
    for node_id, m in zip(ids, found, strict=True):
        assert m.model.startswith("captioner64") and m.match == match_score(PROMPT, m.caption)
        words = f"Shows: {m.caption}\nPrompt match: {m.match.summary()}"
        tile = next(
            win.grid.item(i) for i in range(win.grid.count()) if win.grid.item(i).data(NODE_ROLE) == node_id
        )
        assert words in tile.toolTip() and PROMPT in tile.toolTip()
        assert words in win.history.tooltip(node_id)
        node = win.project.node(node_id)
        assert stored_caption(win.project, m.model, node.image) == m.caption  # kept with the project
    qtbot.wait(50)
    colour = badge_colour(found[0])
    assert _colour_shown(win.grid.viewport(), colour) > 20  # the pill is painted on the tile
    assert _colour_shown(win.history.tree.viewport(), colour) > 20  # and at the end of the history row
    win.apply_settings(dataclasses.replace(win.settings, show_match=False))
    assert _colour_shown(win.grid.viewport(), colour) == 0
    assert _colour_shown(win.history.tree.viewport(), colour) == 0
    assert "Prompt match" not in win.history.tooltip(ids[0])


def test_a_reopened_project_shows_its_scores_without_describing_again(
    qtbot, captioner_env: Path, project_dir: Path
) -> None:
    win = open_window(qtbot, project_dir)
    ids = generate(qtbot, win, PROMPT, seed=3)
    before = _scored(qtbot, win, ids)
    model = before[0].model
    images = [win.project.node(i).image for i in ids]
    win.close()
    with Project.open(project_dir) as project:  # a hand-edited caption is what a reopen must show
        project.meta_set(caption_key(model, images[0]), "a stormy sea at noon")
    win = open_window(qtbot, project_dir)
    try:
        after = _scored(qtbot, win, ids)
        assert after[0].caption == "a stormy sea at noon"  # read back, not described again
        assert after[0].match == match_score(PROMPT, "a stormy sea at noon") and after[1] == before[1]
    finally:
        win.close()


def test_without_anything_to_caption_with_there_are_no_scores_and_no_errors(
    qtbot, window: MainWindow
) -> None:
    """The tiny models only: no captioner and no image encoder to fall back on."""
    failures: list[str] = []
    window.session.failed.connect(failures.append)
    ids = generate(qtbot, window, PROMPT, seed=1)
    qtbot.waitUntil(lambda: bool(window.matches.off_reason), timeout=RENDER_MS)
    assert window.matches.match(window.project.node(ids[0])) is None and not failures
    assert window.matches.pending() == 0
    generate(qtbot, window, PROMPT, seed=2)  # asks nothing more once off
    assert window.matches.pending() == 0
