"""The Scene bar: what the prompt says about time, weather and season, pinnable, stored in the
recipe and restored with the node — in a real window on a real attribute-conditioned model."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ui_helpers import LOAD_MS, RENDER_MS, generate

from studio.audio.io import write_wav
from studio.inference.attributes import SOUND_KEY
from studio.project.store import Project
from studio.world.sounds import synth
from ui.main_window import MainWindow
from ui.settings import Settings
from ui.sound_panel import CANT_PLACE_TIP, NOTHING_TICKED_TIP


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


def _heard(qtbot, win: MainWindow, kind: str, folder: Path, seed: int = 3):
    """Load a synthesised sound into the Sound panel and wait until it lists what it will change."""
    path = folder / f"{kind}.wav"
    write_wav(path, synth(kind, np.random.default_rng(seed), seconds=3.0), 16000)
    panel = win.sound.panel
    assert panel.load_file(path)
    qtbot.waitUntil(lambda: bool(panel.changes.checks), timeout=RENDER_MS)
    return panel


def test_sound_panel_says_what_an_owl_will_change(qtbot, attr_window, tmp_path):
    ids = generate(qtbot, attr_window, "a meadow at noon", seed=2)
    attr_window.select_node(ids[0])
    panel = _heard(qtbot, attr_window, "owl", tmp_path)
    (value, box) = panel.changes.checks["time"]
    assert value == "night" and box.isChecked() and re.fullmatch(r"time → night ← Owl 0\.\d\d", box.text())
    assert panel.apply_button.isEnabled()
    box.click()  # nothing left to change: Apply says why it is off
    assert not panel.apply_button.isEnabled() and panel.apply_button.toolTip() == NOTHING_TICKED_TIP
    box.click()
    assert panel.apply_button.isEnabled()


def test_unticked_changes_are_left_alone_live_applied_and_stored(qtbot, attr_window, tmp_path):
    ids = generate(qtbot, attr_window, "a meadow at noon in winter", seed=2)
    attr_window.select_node(ids[0])
    panel = _heard(qtbot, attr_window, "crickets", tmp_path, seed=8)  # a take over the listen floor
    assert {g: v for g, (v, _) in panel.changes.checks.items()} == {"time": "night", "season": "summer"}
    panel.changes.checks["time"][1].click()
    with qtbot.waitSignal(attr_window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.apply_button.click()
    applied = attr_window.project.node(blocker.args[0][0])
    assert applied.kind == "sound" and applied.recipe.extra[SOUND_KEY] == {"season": "summer"}
    pipe = attr_window.worker._pipe
    again = pipe.render([applied.recipe], attr_window.project.assets)[0]
    stored = np.asarray(Image.open(io.BytesIO(attr_window.project.assets.get(applied.image))).convert("RGB"))
    assert np.array_equal(again, stored)  # re-renders exactly, from the stored changes, not the sound
    assert np.array_equal(again, pipe.render([applied.recipe.replace(sound=None)])[0])

    qtbot.waitUntil(lambda: panel.held_groups() == ("time",), timeout=RENDER_MS)  # the node shows its ticks
    attr_window.select_node(ids[0])
    frames: list = []
    attr_window.worker.preview.connect(lambda _stamp, _image, recipe: frames.append(recipe))
    panel.live_button.click()

    def moved() -> list[dict]:
        return [f.extra[SOUND_KEY] for f in frames if SOUND_KEY in f.extra]

    qtbot.waitUntil(lambda: bool(moved()), timeout=RENDER_MS)  # the first frames' sound is too short
    assert all("time" not in m for m in moved())
    with qtbot.waitSignal(attr_window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.capture_button.click()
    panel.live_button.click()
    captured = attr_window.project.node(blocker.args[0][0]).recipe
    assert isinstance(captured.extra[SOUND_KEY], dict) and "time" not in captured.extra[SOUND_KEY]


def test_white_noise_is_a_steady_hiss_the_panel_will_not_place(qtbot, attr_window, tmp_path):
    """The encoder hears white noise as heavy rain above its floor; the panel says what it is."""
    from studio.eval.out_of_world import out_of_world

    path = tmp_path / "static.wav"
    write_wav(path, out_of_world("white_noise", np.random.default_rng(5)), 16000)
    panel = attr_window.sound.panel
    assert panel.load_file(path)
    qtbot.waitUntil(lambda: bool(panel.changes.checks), timeout=RENDER_MS)
    assert panel.listen_label.text().startswith("Can't place this sound, a steady hiss like static")
    assert panel.changes.moves() == {} and not panel.apply_button.isEnabled()


def test_a_sound_it_cannot_place_ticks_no_change_until_the_artist_does(qtbot, attr_window, tmp_path):
    ids = generate(qtbot, attr_window, "a meadow at noon", seed=2)
    attr_window.select_node(ids[0])
    panel = _heard(qtbot, attr_window, "crickets", tmp_path)  # this take is under the listen floor
    assert panel.listen_label.text().startswith("Can't place this sound (closest: Crickets ")
    assert panel.changes.checks and panel.changes.moves() == {}  # listed, but nothing guessed
    assert not panel.apply_button.isEnabled() and panel.apply_button.toolTip() == CANT_PLACE_TIP
    panel.changes.checks["time"][1].click()  # the artist chooses the closest sound's change
    with qtbot.waitSignal(attr_window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.apply_button.click()
    assert attr_window.project.node(blocker.args[0][0]).recipe.extra[SOUND_KEY] == {"time": "night"}


def test_wintry_sounds_offer_snow_on_the_ground_as_a_change_of_its_own(qtbot, attr_window, tmp_path):
    ids = generate(qtbot, attr_window, "a meadow at noon in summer", seed=2)
    attr_window.select_node(ids[0])
    panel = _heard(qtbot, attr_window, "snow_crunch", tmp_path)
    assert {g: v for g, (v, _) in panel.changes.checks.items()} == {"season": "winter", "ground": "snow"}
    value, box = panel.changes.checks["ground"]
    assert re.fullmatch(r"ground → snow ← Footsteps in snow 0\.\d\d", box.text())
    for group, (_value, check) in panel.changes.checks.items():  # ticked: season only, whatever was placed
        check.setChecked(group == "season")
    with qtbot.waitSignal(attr_window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.apply_button.click()
    assert attr_window.project.node(blocker.args[0][0]).recipe.extra[SOUND_KEY] == {"season": "winter"}
