"""Text prompts start from an imagined layout in the app: stored as the node's sketch, shown on the
Paint tab for repainting, and switched off in Settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel
from ui_helpers import LOAD_MS, RENDER_MS, generate

from studio.export.layout_prior import LayoutConfig, build_layout_prior
from studio.inference.pipeline import Pipeline, sketch_indices
from studio.inference.registry import ModelRegistry
from studio.project.store import Project
from ui.main_window import MainWindow
from ui.settings import Settings


@pytest.fixture(scope="module")
def layout_models(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("layout_models")
    shutil.copytree(models_dir, folder, symlinks=True, dirs_exist_ok=True)
    cfg = LayoutConfig(
        name="tiny-layout", generator="tiny-gen", scenes=12, captions_per_scene=1, eval_queries=8
    )
    build_layout_prior(cfg, folder, Pipeline(ModelRegistry([folder]), device="cpu"))
    return folder


def _window(qtbot, monkeypatch, layout_models: Path, project_dir: Path, **settings) -> MainWindow:
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(layout_models))
    win = MainWindow(Project.open(project_dir), Settings(count=2, size=32, **settings))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.models_ready, timeout=LOAD_MS):
        win.show()
    return win


def test_generated_nodes_carry_their_imagined_layout(qtbot, monkeypatch, layout_models, project_dir) -> None:
    win = _window(qtbot, monkeypatch, layout_models, project_dir)
    welcome = " ".join(label.text() for label in win.welcome.findChildren(QLabel))
    assert "starts from a scene layout" in welcome
    ids = generate(qtbot, win, "snowy mountains over a lake", seed=1)
    nodes = [win.project.node(i) for i in ids]
    assert all(
        n.recipe.sketch is not None and n.recipe.extra["layout"].startswith("tiny-layout") for n in nodes
    )
    win.select_node(ids[0])
    win.show_paint()
    info = win.info.default
    layout = sketch_indices(win.project.assets.get(nodes[0].recipe.sketch), info)
    qtbot.waitUntil(lambda: win.paint.canvas.sketch().any(), timeout=RENDER_MS)
    canvas = win.paint.canvas.sketch()
    step = canvas.shape[0] // layout.shape[0]
    assert np.array_equal(canvas[::step, ::step], layout)  # the canvas shows the layout to repaint
    win.close()


def test_the_setting_turns_it_off(qtbot, monkeypatch, layout_models, project_dir) -> None:
    win = _window(qtbot, monkeypatch, layout_models, project_dir, imagine_layout=False)
    ids = generate(qtbot, win, "snowy mountains over a lake", seed=1)
    assert all(win.project.node(i).recipe.sketch is None for i in ids)
    win.close()


def test_seed_browser_picks_the_layout_generate_would(qtbot, monkeypatch, layout_models, project_dir) -> None:
    from ui.variations_controller import VariationsController

    win = _window(qtbot, monkeypatch, layout_models, project_dir)
    ids = generate(qtbot, win, "snowy mountains over a lake", seed=1)  # seeds 1 and 2
    controller = VariationsController(win.session, win.view)
    win.select_node(ids[0])
    with qtbot.waitSignal(win.worker.preview, timeout=RENDER_MS):
        controller.step_seed(1)
    with qtbot.waitSignal(win.batch_shown, timeout=RENDER_MS) as blocker:
        controller.keep_seed()
    kept, twin = win.project.node(blocker.args[0][0]).recipe, win.project.node(ids[1]).recipe
    assert kept.seed == twin.seed == 2
    assert (kept.sketch, kept.extra["layout"]) == (twin.sketch, twin.extra["layout"])
    win.close()


def test_painting_over_a_layout_makes_it_the_artists(qtbot, monkeypatch, layout_models, project_dir) -> None:
    win = _window(qtbot, monkeypatch, layout_models, project_dir)
    ids = generate(qtbot, win, "a calm lake", seed=3)
    win.select_node(ids[0])
    win.show_paint()
    canvas = win.paint.canvas
    qtbot.waitUntil(lambda: canvas.sketch().any(), timeout=RENDER_MS)
    sketch = canvas.sketch()
    sketch[:20] = 1  # sky over the top rows, as a stroke would
    canvas.set_sketch(sketch)
    with qtbot.waitSignal(win.batch_shown, timeout=RENDER_MS) as blocker:
        win.paint.keep()
    painted = win.project.node(blocker.args[0][0]).recipe
    assert painted.sketch != win.project.node(ids[0]).recipe.sketch and "layout" not in painted.extra
    win.close()
