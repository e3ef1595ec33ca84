"""The Variations panel on the real window: vary, seeds, interpolate, breed and discovered controls."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from ui_helpers import RENDER_MS, generate

from studio.variations import Direction
from ui.variations_controller import META_DIRECTIONS, VariationsController

LEFT = Qt.MouseButton.LeftButton


def _controller(win) -> VariationsController:
    """A second controller on the window's session, with a panel of its own."""
    return VariationsController(win.session, win.view)


def _click_and_wait(qtbot, win, button) -> list[str]:
    """Click a button that commits nodes; returns the ids the window shows afterwards."""
    with qtbot.waitSignal(win.batch_shown, timeout=RENDER_MS) as blocker:
        qtbot.mouseClick(button, LEFT)
    return blocker.args[0]


def test_vary_commits_children_of_the_selected_node(qtbot, window) -> None:
    ids = generate(qtbot, window, "a misty lake", seed=3)
    controller = _controller(window)
    window.select_node(ids[1])
    controller.panel.count.setValue(3)
    controller.panel.strength.setValue(0.5)
    children = _click_and_wait(qtbot, window, controller.panel.vary_button)
    assert len(children) == 3
    base = window.project.node(ids[1]).recipe
    for child_id in children:
        child = window.project.node(child_id)
        assert child.kind == "vary" and child.parents == (ids[1],)
        assert child.recipe.latent is not None and child.recipe.prompt == base.prompt
        assert child.recipe.latent != tuple(float(v) for v in base.latent_vector(len(child.recipe.latent)))


def test_seed_browser_previews_then_keeps(qtbot, window) -> None:
    ids = generate(qtbot, window, "a desert at noon", seed=10)
    controller = _controller(window)
    window.select_node(ids[0])
    count = len(window.project.nodes())
    with qtbot.waitSignal(window.worker.preview, timeout=RENDER_MS):
        qtbot.mouseClick(controller.panel.next_seed, LEFT)
    assert len(window.project.nodes()) == count  # a preview stores nothing
    assert controller.panel.seed_label.text() == "seed 11"
    kept = _click_and_wait(qtbot, window, controller.panel.keep_seed)
    node = window.project.node(kept[0])
    assert node.kind == "seed" and node.parents == (ids[0],) and node.recipe.seed == 11


def test_interpolate_strip_and_keep_a_frame_with_two_parents(qtbot, window) -> None:
    ids = generate(qtbot, window, "snowy mountains at dawn", seed=1)
    controller = _controller(window)
    panel = controller.panel
    window.select_node(ids[0])
    qtbot.mouseClick(panel.set_a_button, LEFT)
    window.select_node(ids[2])
    panel.frames.setValue(5)
    with qtbot.waitSignal(controller.strip_ready, timeout=RENDER_MS):
        qtbot.mouseClick(panel.interpolate_button, LEFT)
    assert panel.strip.count() == 5 and panel.frame_slider.maximum() == 4
    panel.frame_slider.setFocus()
    qtbot.keyClick(panel.frame_slider, Qt.Key.Key_Right)
    qtbot.keyClick(panel.frame_slider, Qt.Key.Key_Right)
    assert panel.current_frame() == 2 and panel.strip.currentRow() == 2
    kept = _click_and_wait(qtbot, window, panel.keep_frame_button)
    node = window.project.node(kept[0])
    assert node.kind == "interpolate" and node.parents == (ids[0], ids[2])
    assert node.recipe == controller.frames[2] and "text_embedding" in node.recipe.extra


def test_interpolate_without_a_says_what_to_do(qtbot, window) -> None:
    ids = generate(qtbot, window, "a calm sea", seed=2)
    controller = _controller(window)
    window.select_node(ids[0])
    assert controller.interpolate() is None
    assert "Set A" in window.toast.text()
    qtbot.mouseClick(controller.panel.set_a_button, LEFT)
    assert controller.interpolate() is None  # A and the selection are the same picture


def test_breed_three_nodes_into_one_child(qtbot, window) -> None:
    ids = generate(qtbot, window, "a forest by a lake", seed=5)
    controller = _controller(window)
    panel = controller.panel
    for node_id in ids[:3]:
        window.select_node(node_id)
        qtbot.mouseClick(panel.add_mix_button, LEFT)
    window.select_node(ids[0])
    qtbot.mouseClick(panel.add_mix_button, LEFT)  # already in the mix: refused with a message
    assert controller.mix == ids[:3] and "already" in window.toast.text()
    kept = _click_and_wait(qtbot, window, panel.breed_button)
    node = window.project.node(kept[0])
    assert node.kind == "breed" and node.parents == tuple(ids[:3])
    assert node.recipe.latent is not None and "text_embedding" in node.recipe.extra


def test_breed_needs_two_parents(qtbot, window) -> None:
    ids = generate(qtbot, window, "rocky hills", seed=9)
    controller = _controller(window)
    window.select_node(ids[0])
    qtbot.mouseClick(controller.panel.add_mix_button, LEFT)
    assert not controller.panel.breed_button.isEnabled()
    assert controller.breed() is None and "two" in window.toast.text()


def test_direction_slider_previews_then_keeps(qtbot, window) -> None:
    ids = generate(qtbot, window, "a green valley", seed=4)
    controller = _controller(window)
    panel = controller.panel
    with qtbot.waitSignal(controller.directions_ready, timeout=RENDER_MS) as blocker:
        panel.show()  # the first show computes the controls in the worker
    directions: list[Direction] = blocker.args[0]
    assert directions and panel.directions_form.rowCount() == len(directions)
    stored = window.project.meta_get(META_DIRECTIONS)
    assert stored["model"] == "tiny-gen" and len(stored["directions"]) == len(directions)
    window.select_node(ids[0])
    name = directions[0].name
    with qtbot.waitSignal(window.worker.preview, timeout=RENDER_MS) as preview:
        panel.direction_slider(name).setValue(2.0)
    assert preview.args[2] == controller._direction_recipe
    assert panel.keep_direction_button.isEnabled()
    kept = _click_and_wait(qtbot, window, panel.keep_direction_button)
    node = window.project.node(kept[0])
    assert node.kind == "direction" and node.parents == (ids[0],)
    base = window.project.node(ids[0]).recipe
    z = len(directions[0].vector)
    moved = np.asarray(node.recipe.latent) - base.latent_vector(z)
    np.testing.assert_allclose(moved, 2.0 * np.asarray(directions[0].vector), atol=1e-4)
    assert panel.amounts() == {}  # keeping starts again from zero


def test_picks_from_a_closed_project_are_refused_with_a_message(qtbot, window, tmp_path) -> None:
    ids = generate(qtbot, window, "a quiet bay", seed=6)
    controller = _controller(window)
    for node_id in ids[:2]:
        window.select_node(node_id)
        qtbot.mouseClick(controller.panel.add_mix_button, LEFT)
    qtbot.mouseClick(controller.panel.set_a_button, LEFT)
    assert window.open_project(tmp_path / "other")
    other = generate(qtbot, window, "a quiet bay", seed=6)
    window.select_node(other[0])
    assert controller.interpolate() is None and "set A again" in window.toast.text()
    assert controller.breed() is None and "another project" in window.toast.text()
    assert controller.mix == [] and controller.a_id == ""
