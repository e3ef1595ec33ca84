"""The Scene bar: what the prompt says about time, weather and season, pinnable, stored in the
recipe and restored with the node — in a real window on a real attribute-conditioned model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_models import build_generator, build_models_dir
from ui_helpers import LOAD_MS, generate

from studio.project.store import Project
from ui.main_window import MainWindow
from ui.settings import Settings


@pytest.fixture(scope="module")
def attribute_models(tmp_path_factory) -> Path:
    folder = build_models_dir(tmp_path_factory.mktemp("attr-models"))
    build_generator(folder, name="tiny-attr", version="2.0", attributes=True)  # newest: the default
    return folder


@pytest.fixture
def attr_window(qtbot, monkeypatch, tmp_path, attribute_models) -> Iterator[MainWindow]:
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(attribute_models))
    monkeypatch.setenv("SYNESTHESIA_HOME", str(tmp_path / "home"))
    win = MainWindow(Project.open(tmp_path / "project"), Settings(count=2, size=64))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.models_ready, timeout=LOAD_MS):
        win.show()
    yield win
    win.close()


def test_bar_reads_the_prompt_as_it_is_typed(attr_window):
    bar = attr_window.prompt_panel.attributes
    assert bar.isEnabled()  # the default generator has an attribute input
    attr_window.prompt_panel.prompt.setText("a moonlit lake in the drizzle")
    assert bar.combos["time"].itemText(0) == "time: auto (night ← moonlit)"
    assert bar.combos["weather"].itemText(0) == "weather: auto (rainy ← drizzle)"
    assert bar.combos["season"].itemText(0) == "season: auto (?)"
    assert bar.pinned() == ()


def test_pinned_value_is_rendered_stored_and_restored(qtbot, attr_window):
    bar = attr_window.prompt_panel.attributes
    bar.combos["time"].setCurrentIndex(bar.combos["time"].findData("noon"))
    pinned = generate(qtbot, attr_window, "a moonlit lake", seed=5)
    node = attr_window.project.node(pinned[0])
    assert node.recipe.model == "tiny-attr"
    assert node.recipe.extra["attributes"] == {"time": "noon", "weather": None, "season": None}
    bar.combos["time"].setCurrentIndex(0)
    auto = generate(qtbot, attr_window, "a moonlit lake", seed=5)
    assert attr_window.project.node(auto[0]).recipe.extra["attributes"]["time"] == "night"
    assert attr_window.project.node(auto[0]).image != node.image  # the pin changed the picture
    attr_window.select_node(pinned[0])
    assert bar.combos["time"].currentData() == "noon"  # restored as pinned, not as "auto"
    attr_window.select_node(auto[0])
    assert bar.combos["time"].currentData() == "auto"


def test_sound_panel_says_what_an_owl_will_change_and_the_edit_does_it(qtbot, attr_window, tmp_path):
    import numpy as np

    from studio.audio.io import write_wav
    from studio.world.sounds import synth

    ids = generate(qtbot, attr_window, "a meadow at noon", seed=2)
    attr_window.select_node(ids[0])
    owl = tmp_path / "owl.wav"
    write_wav(owl, synth("owl", np.random.default_rng(3), seconds=3.0), 16000)
    panel = attr_window.sound.panel
    with qtbot.waitSignal(attr_window.worker.job_done, timeout=60_000):
        assert panel.load_file(owl)
    qtbot.waitUntil(lambda: "Will change" in panel.listen_label.text(), timeout=60_000)
    assert "Will change: time → night ← Owl" in panel.listen_label.text()
