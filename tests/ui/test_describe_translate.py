"""Describe and Translate in the app (issue 19): the panel shows the caption, where it came from and
how it matches the prompt; Use as prompt fills the prompt; a broken file is refused in words;
Translate commits a child of kind "translate" that re-renders exactly, is selected and found by the
history's kind filter; without a translator the action says what to install and adds nothing."""

from __future__ import annotations

import io
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from ui_helpers import LOAD_MS, RENDER_MS, generate

from studio.describe.match import match_score
from studio.describe.retrieval import bank_captions
from studio.hashing import sha256_bytes
from studio.paths import REPO_ROOT
from studio.project.store import Project
from ui.accessibility import audit
from ui.main_window import MainWindow
from ui.settings import Settings
from ui.worker import Job

SHIPPED = REPO_ROOT / "exported_models"


def _picture_action(win: MainWindow, text: str):
    """An entry of the Picture menu, as the artist finds it."""
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Picture")
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


@pytest.fixture(scope="module")
def translator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny day ↔ night translator through the real export path (untrained: the app's plumbing is
    under test, not the translation's quality)."""
    torch = pytest.importorskip("torch")
    from studio.export.translator_export import export_translator
    from studio.training.translator import KIND, TranslateConfig, build_generators

    torch.manual_seed(0)
    cfg = TranslateConfig(
        name="tiny-tr", resolution=32, ngf=4, blocks=1, style_dim=4, upscaler=None, threads=1
    )
    a_to_b, b_to_a = build_generators(cfg)
    state = {
        "kind": KIND,
        "config": cfg.to_dict(),
        "G_ab_ema": a_to_b.state_dict(),
        "G_ba_ema": b_to_a.state_dict(),
        "step": 0,
        "seen": 0,
        "wall_s": 0.0,
    }
    folder = tmp_path_factory.mktemp("translator")
    with warnings.catch_warnings():  # the exporter's own deprecation chatter
        warnings.simplefilter("ignore")
        export_translator(state, folder / "tiny-tr")
    return folder


@pytest.fixture
def picture_window(qtbot, studio_env: Path, project_dir: Path, translator_dir: Path) -> Iterator[MainWindow]:
    """The usual window, with the shipped image encoder (retrieval captions) and the tiny translator
    installed as user models."""
    if not (SHIPPED / "image_encoder.json").is_file():
        pytest.skip("no shipped image encoder")
    models = studio_env / "models"
    models.mkdir(parents=True)
    for path in [
        *translator_dir.glob("tiny-tr.*"),
        SHIPPED / "image_encoder.json",
        SHIPPED / "image_encoder.onnx",
    ]:
        shutil.copy(path, models / path.name)
    win = MainWindow(Project.open(project_dir), Settings(count=2, size=64))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.models_ready, timeout=LOAD_MS):
        win.show()
    yield win
    win.close()


def _in_worker(qtbot, win: MainWindow, run):
    """What `run(pipe, project, progress)` returns, computed by the window's own worker."""
    results: list = []
    win.session.submit(Job(run=run, lane="test"), on_done=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=RENDER_MS)
    return results[0]


def test_describe_fills_the_panel_and_use_as_prompt_sets_the_prompt(
    qtbot, picture_window: MainWindow
) -> None:
    win = picture_window
    prompt = "a calm lake at night"
    ids = generate(qtbot, win, prompt, seed=1)
    assert win.history.current() == ids[0]
    panel = win.describe.panel
    _picture_action(win, "Describe").trigger()
    assert panel.busy.isVisibleTo(panel) and "Describing" in panel.status.text()
    qtbot.waitUntil(lambda: bool(panel.caption.text()), timeout=RENDER_MS)
    caption = panel.caption.text()
    assert caption in bank_captions()
    assert "no captioner model is installed" in panel.notes.text()  # the fallback is said, not hidden
    assert panel.source.text().startswith("retrieval baseline") and "image_encoder" in panel.source.text()
    assert panel.scene.text().startswith("time ")
    assert match_score(prompt, caption).summary() in panel.match.text()
    assert not panel.busy.isVisibleTo(panel) and panel.use_button.isEnabled()
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    assert win.prompt_panel.text() == caption
    win.prompt_panel.prompt.undo()  # one edit of the prompt line
    assert win.prompt_panel.text() == prompt


def test_describe_refuses_broken_files_in_words(qtbot, window: MainWindow, tmp_path: Path) -> None:
    panel = window.describe.panel
    (tmp_path / "notes.png").write_text("not a picture")
    Image.new("RGB", (4, 4)).save(tmp_path / "dot.png")
    for name, text in (
        ("notes.png", "notes.png is not a readable image"),
        ("dot.png", "dot.png is 4x4 px; describing needs at least 8x8 px"),
        ("missing.png", "Cannot read missing.png"),
    ):
        with qtbot.waitSignal(window.session.notified, timeout=RENDER_MS) as told:
            window.describe.describe_file(tmp_path / name)
        assert text in told.args[0]
        assert text in panel.status.text() and not panel.caption.text()
        assert not panel.use_button.isEnabled() and not panel.busy.isVisibleTo(panel)


def test_translate_commits_a_selected_child_that_renders_again(
    qtbot, picture_window: MainWindow, tmp_path: Path
) -> None:
    win = picture_window
    ids = generate(qtbot, win, "a lake at noon", seed=2)
    _picture_action(win, "Translate…").trigger()
    qtbot.waitUntil(lambda: win.translate.dialog is not None, timeout=RENDER_MS)
    dialog = win.translate.dialog
    assert audit(dialog) == []
    assert [dialog.target.itemText(i) for i in range(dialog.target.count())] == ["day", "night"]
    dialog.target.setCurrentText("night")
    dialog.seed.setValue(3)
    with qtbot.waitSignal(win.batch_shown, timeout=RENDER_MS) as shown:
        dialog.accept()
    (child_id,) = shown.args[0]
    child = win.project.node(child_id)
    assert child.kind == "translate" and child.parents == (ids[0],)
    assert child.recipe.model == "tiny-tr" and child.recipe.seed == 3
    assert child.recipe.extra["translate"]["to"] == "night"
    assert child.recipe.extra["translate"]["source"] == win.project.node(ids[0]).image
    assert win.history.current() == child_id
    assert win.history.title(child_id).startswith("night (translated)")
    stored = np.asarray(Image.open(io.BytesIO(win.project.assets.get(child.image))).convert("RGB"))
    again = _in_worker(qtbot, win, lambda pipe, project, _p: pipe.render([child.recipe], project.assets)[0])
    assert np.array_equal(stored, again)

    win.history.kind.setCurrentIndex(win.history.kind.findData("translate"))
    assert win.history.filter_state(child_id) == "match"
    assert win.history.filter_state(ids[0]) == "context"  # its source, greyed
    assert win.history.filter_state(ids[1]) == "hidden"

    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 40, 3), np.uint8)).save(wide)
    with qtbot.waitSignal(win.batch_shown, timeout=RENDER_MS) as shown:
        win.translate.translate_file(wide, "day", 1)
    root = win.project.node(shown.args[0][0])
    assert root.kind == "translate" and root.parents == () and root.recipe.size == 64
    assert win.project.assets.has(sha256_bytes(wide.read_bytes()))  # the source travels with the project
    assert win.history.title(root.id).startswith("day (translated)")


def test_translate_without_a_translator_says_so_and_adds_nothing(qtbot, window: MainWindow) -> None:
    generate(qtbot, window, "a lake", seed=1)
    before = len(window.project.nodes())
    with qtbot.waitSignal(window.session.notified, timeout=RENDER_MS) as told:
        _picture_action(window, "Translate…").trigger()
    assert "no translator is installed" in told.args[0] and "studio train" in told.args[0]
    assert window.translate.dialog is None
    with qtbot.waitSignal(window.session.notified, timeout=RENDER_MS) as told:
        window.translate.translate_node(window.history.current(), "night", 1)
    assert "no translator is installed" in told.args[0]
    qtbot.wait(200)
    assert len(window.project.nodes()) == before
