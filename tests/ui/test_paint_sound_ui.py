"""Paint and sound from the GUI: real window, tiny generator, shipped sound encoder and segmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from ui_helpers import RENDER_MS, generate, open_window

from studio.audio.io import SAMPLE_RATE, read_audio, write_wav
from studio.inference.pipeline import sketch_indices
from studio.inference.sound_pin import SOUND_ENCODER_KEY
from studio.world.classes import CLASS_INDEX
from studio.world.sounds import synth
from ui.canvas import Tool
from ui.main_window import MainWindow


def _paint_tab_on_new_node(qtbot, project_dir: Path, prompt: str, seed: int) -> tuple[MainWindow, str]:
    """A window on the project with one generated node selected and the Paint tab shown."""
    win = open_window(qtbot, project_dir)
    node_id = generate(qtbot, win, prompt, seed=seed)[0]
    win.select_node(node_id)
    win.show_paint()
    return win, node_id


def _snow_stroke(qtbot, canvas) -> None:
    """A 30 px snow stroke across the top of the canvas."""
    canvas.current_class = CLASS_INDEX["snow"]
    canvas.brush_size = 30
    _stroke(qtbot, canvas, (30, 30), (220, 30))


def _stroke(qtbot, canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag the mouse over the canvas from one canvas-space point to another."""
    p0 = _widget_point(canvas, start)
    p1 = _widget_point(canvas, end)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=p0)
    for t in np.linspace(0, 1, 8)[1:]:
        qtbot.mouseMove(
            canvas, QPoint(int(p0.x() + t * (p1.x() - p0.x())), int(p0.y() + t * (p1.y() - p0.y())))
        )
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=p1)


def _widget_point(canvas, point: tuple[float, float]) -> QPoint:
    from PySide6.QtCore import QPointF

    mapped = canvas.widget_pos(QPointF(*point))
    return QPoint(int(mapped.x()), int(mapped.y()))


@pytest.fixture
def painting(qtbot, window: MainWindow) -> MainWindow:
    ids = generate(qtbot, window, "a lake under mountains", seed=3)
    window.select_node(ids[0])
    window.show_paint()
    qtbot.waitUntil(lambda: window.paint.canvas.isVisible(), timeout=5000)
    return window


def test_painting_rerenders_live_and_keep_commits_the_sketch(qtbot, painting: MainWindow) -> None:
    canvas = painting.paint.canvas
    base = painting.paint.base
    canvas.tool = Tool.BRUSH
    canvas.current_class = CLASS_INDEX["water"]
    canvas.brush_size = 48
    with qtbot.waitSignal(painting.paint.preview_shown, timeout=RENDER_MS):
        _stroke(qtbot, canvas, (20, 200), (236, 200))
    assert (
        painting.project.nodes()[-1].id == base.id or len(painting.project.nodes()) == 4
    )  # nothing committed
    with qtbot.waitSignal(painting.batch_shown, timeout=RENDER_MS) as blocker:
        painting.paint.keep()
    (node_id,) = blocker.args[0]
    node = painting.project.node(node_id)
    assert node.kind == "paint" and node.parents == (base.id,)
    assert node.recipe.seed == base.recipe.seed
    info = painting.info.default
    indices = sketch_indices(painting.project.assets.get(node.recipe.sketch), info)
    row = int(200 / 256 * info.resolution)
    assert (indices[row, 2:-2] == CLASS_INDEX["water"]).all()


def test_masked_regeneration_changes_only_the_mask(qtbot, painting: MainWindow) -> None:
    canvas = painting.paint.canvas
    base = painting.paint.base
    mask = np.zeros((256, 256), np.float32)
    mask[:, 128:] = 1.0
    canvas.set_mask(mask)
    painting.prompt_panel.prompt.setText("a lake under mountains at night")
    with qtbot.waitSignal(painting.batch_shown, timeout=RENDER_MS) as blocker:
        painting.paint.regenerate_in_mask()
    node = painting.project.node(blocker.args[0][0])
    assert node.kind == "masked" and node.recipe.mask and node.recipe.extra["base_image"] == base.image
    before = np.asarray(_image(painting, base.image))
    after = np.asarray(_image(painting, node.image))
    assert np.array_equal(before[:, : before.shape[1] // 4], after[:, : after.shape[1] // 4])


def _image(window: MainWindow, sha: str):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(window.project.assets.get(sha))).convert("RGB")


def test_sketch_from_image_uses_the_segmenter(qtbot, painting: MainWindow) -> None:
    canvas = painting.paint.canvas
    canvas.clear_sketch()
    assert not canvas.sketch().any()
    # wait on the canvas, not on job_done: a fast worker can emit it (in its own thread) before
    # the job submit returned is known here
    assert painting.paint.sketch_from_image() is not None
    qtbot.waitUntil(lambda: canvas.sketch().any(), timeout=RENDER_MS)


def test_painting_survives_a_restart(qtbot, studio_env: Path, project_dir: Path) -> None:
    win, node_id = _paint_tab_on_new_node(qtbot, project_dir, "snowy peaks", seed=1)
    canvas = win.paint.canvas
    _snow_stroke(qtbot, canvas)
    painted = canvas.sketch()
    win.close()  # no keep: the stroke end already saved the sketch
    again = open_window(qtbot, project_dir)
    qtbot.waitUntil(lambda: again.paint.base is not None, timeout=5000)
    assert again.paint.base.id == node_id
    assert np.array_equal(again.paint.canvas.sketch(), painted)
    again.close()


def test_paint_strokes_undo_across_a_restart(qtbot, studio_env: Path, project_dir: Path) -> None:
    win, _ = _paint_tab_on_new_node(qtbot, project_dir, "a lake", seed=2)
    canvas = win.paint.canvas
    qtbot.waitUntil(lambda: canvas.sketch().any(), timeout=RENDER_MS)  # the segmenter's sketch
    loaded = canvas.sketch()
    _snow_stroke(qtbot, canvas)
    first = canvas.sketch()
    canvas.tool = Tool.MASK
    _stroke(qtbot, canvas, (30, 200), (220, 200))
    masked = canvas.mask()
    assert masked.any()
    canvas.tool = Tool.BRUSH
    canvas.current_class = CLASS_INDEX["water"]
    _stroke(qtbot, canvas, (30, 120), (220, 120))
    win.undo_stack.undo()  # the water stroke is undone before closing: redo must still be possible
    assert np.array_equal(canvas.sketch(), first)
    win.close()

    again = open_window(qtbot, project_dir)
    canvas = again.paint.canvas
    stack = again.undo_stack
    assert np.array_equal(canvas.sketch(), first) and np.allclose(canvas.mask(), masked, atol=1 / 255)
    assert [stack.text(i) for i in range(stack.count())][-3:] == ["Paint Snow", "Paint mask", "Paint Water"]
    assert stack.canRedo()
    stack.redo()  # the water stroke comes back
    assert (canvas.sketch()[120, 60:200] == CLASS_INDEX["water"]).all()
    stack.undo()
    stack.undo()  # the mask stroke
    assert not canvas.mask().any()
    stack.undo()  # the snow stroke
    assert np.array_equal(canvas.sketch(), loaded)
    again.close()

    third = open_window(qtbot, project_dir)  # undone strokes stay undone, and redo still reaches them
    assert np.array_equal(third.paint.canvas.sketch(), loaded)
    third.undo_stack.redo()
    assert np.array_equal(third.paint.canvas.sketch(), first)
    third.close()


@pytest.fixture
def rain_wav(tmp_path: Path) -> Path:
    path = tmp_path / "rain.wav"
    write_wav(path, synth("heavy_rain", np.random.default_rng(1), seconds=3.0), SAMPLE_RATE)
    return path


def test_sound_apply_commits_an_exact_edit(qtbot, window: MainWindow, rain_wav: Path) -> None:
    ids = generate(qtbot, window, "a meadow at noon", seed=2)
    window.select_node(ids[1])
    panel = window.sound.panel
    with qtbot.waitSignal(window.worker.job_done, timeout=RENDER_MS):
        assert panel.load_file(rain_wav)
    qtbot.waitUntil(lambda: bool(window.sound.last_listen), timeout=RENDER_MS)
    assert "rain" in " ".join(name.lower() for name, _ in window.sound.last_listen[:3])
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.apply_button.click()
    node = window.project.node(blocker.args[0][0])
    assert node.kind == "sound" and node.parents == (ids[1],)
    assert node.recipe.sound and node.recipe.strength > 0
    assert node.recipe.seed == window.project.node(ids[1]).recipe.seed
    newest = window.worker._pipe.audio_encoder_for(window.worker._pipe.registry.get(node.recipe.model))
    assert node.recipe.extra[SOUND_ENCODER_KEY] == f"{newest.name} {newest.version}"  # pinned
    stored = read_audio(window.project.assets.get(node.recipe.sound))
    assert abs(stored.seconds - 3.0) < 0.01
    pipe = window.worker._pipe
    again = pipe.render([node.recipe], window.project.assets)[0]
    assert np.array_equal(again, np.asarray(_image(window, node.image)))


def test_live_sound_previews_then_capture(qtbot, window: MainWindow, rain_wav: Path) -> None:
    ids = generate(qtbot, window, "a lake", seed=4)
    window.select_node(ids[0])
    panel = window.sound.panel
    assert panel.load_file(rain_wav)
    before = len(window.project.nodes())
    previews: list[int] = []
    window.worker.preview.connect(lambda stamp, image, recipe: previews.append(stamp))
    panel.live_button.click()
    qtbot.waitUntil(lambda: len(previews) >= 3, timeout=RENDER_MS)
    assert len(window.project.nodes()) == before  # previews are not stored
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.capture_button.click()
    panel.live_button.click()
    node = window.project.node(blocker.args[0][0])
    assert node.kind == "sound" and node.recipe.sound is not None
    assert SOUND_ENCODER_KEY in node.recipe.extra  # the encoder the live frames were heard by


def test_animate_writes_a_gif(qtbot, window: MainWindow, rain_wav: Path, tmp_path: Path) -> None:
    from PIL import Image

    ids = generate(qtbot, window, "a lake", seed=4)
    window.select_node(ids[0])
    assert window.sound.panel.load_file(rain_wav)
    out = tmp_path / "anim.gif"
    done: list[int] = []  # every finished stamp, recorded in the worker's thread as it emits
    window.worker.job_done.connect(lambda stamp, _result: done.append(stamp))
    job = window.sound.animate(out, fps=4.0)
    qtbot.waitUntil(lambda: job.stamp in done, timeout=RENDER_MS)
    assert Image.open(out).n_frames == 12


def test_cancelling_an_animation_ends_its_job(qtbot, window: MainWindow, rain_wav: Path, tmp_path) -> None:
    import threading

    from PySide6.QtWidgets import QProgressDialog, QPushButton

    from ui.worker import Job

    ids = generate(qtbot, window, "a lake", seed=4)
    window.select_node(ids[0])
    assert window.sound.panel.load_file(rain_wav)
    started, release = threading.Event(), threading.Event()
    window.session.submit(Job(run=lambda *_: (started.set(), release.wait(10)), lane="blocker"))
    assert started.wait(RENDER_MS / 1000)  # the animation waits behind it
    out = tmp_path / "anim.gif"
    job = window.sound.animate(out, fps=4.0)
    (dialog,) = window.sound.panel.findChildren(QProgressDialog)
    dialog.findChild(QPushButton).click()
    release.set()
    assert job.state == "cancelled" and "Animation cancelled" in window.toast.text()
    again = window.sound.animate(out, fps=4.0)  # a finished one closes its dialog, cancelling nothing
    qtbot.waitUntil(lambda: again.state == "done", timeout=RENDER_MS)
    assert out.is_file() and "Animation written" in window.toast.text()


def test_export_at_512_rerenders_through_the_upscaler(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PIL import Image

    from studio.pngmeta import read_recipe

    ids = generate(qtbot, window, "a lake", seed=4)
    out = tmp_path / "big.png"
    assert window.export_png(ids[0], out, size=512)
    qtbot.waitUntil(lambda: "512 px" in window.statusBar().currentMessage(), timeout=RENDER_MS)
    assert Image.open(out).size == (512, 512)
    assert read_recipe(out).size == 512 and read_recipe(out).seed == window.project.node(ids[0]).recipe.seed


def test_a_plain_jpeg_becomes_a_node_to_paint_on(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PIL import Image

    from studio.world.scene import render_scenes

    scene = render_scenes(1, seed=5, size=96)
    path = tmp_path / "photo.jpg"
    Image.fromarray(scene.images[0]).crop((0, 0, 96, 80)).save(path, quality=90)
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        assert window.import_png(path)
    node = window.project.node(blocker.args[0][0])
    assert node.kind == "import" and node.recipe.extra["imported"] == "photo.jpg"
    assert _image(window, node.image).size == (64, 64)
    assert window.paint.base.id == node.id
    qtbot.waitUntil(lambda: window.paint.canvas.sketch().any(), timeout=RENDER_MS)  # segmented
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    with qtbot.waitSignal(window.message_shown, timeout=RENDER_MS):
        window.import_png(broken)


def test_selecting_a_sound_node_loads_its_sound(qtbot, window: MainWindow, rain_wav: Path) -> None:
    ids = generate(qtbot, window, "a meadow", seed=2)
    window.select_node(ids[0])
    panel = window.sound.panel
    assert panel.load_file(rain_wav)
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        panel.apply_button.click()
    sound_node = blocker.args[0][0]
    bird = rain_wav.with_name("bird.wav")
    write_wav(bird, synth("birdsong", np.random.default_rng(2), seconds=1.0), SAMPLE_RATE)
    assert panel.load_file(bird)
    window.select_node(ids[1])
    window.select_node(sound_node)
    assert panel.current_audio() is not None and abs(panel.current_audio().seconds - 3.0) < 0.01


def _heartbeat() -> tuple[list[float], object]:
    import time

    from PySide6.QtCore import QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    return ticks, timer


def _largest_gap(ticks: list[float]) -> float:
    return max(b - a for a, b in zip(ticks, ticks[1:], strict=False))


def test_heartbeat_while_painting_and_playing_live(qtbot, painting: MainWindow, rain_wav: Path) -> None:
    """Live paint strokes and live sound frames render in the worker: the UI thread keeps ticking."""
    canvas = painting.paint.canvas
    previews: list[int] = []
    painting.worker.preview.connect(lambda stamp, image, recipe: previews.append(stamp))
    ticks, timer = _heartbeat()
    for y in range(20, 240, 40):
        _stroke(qtbot, canvas, (10, y), (240, y + 10))
        qtbot.wait(30)  # let the event loop run between strokes, as it does for a real hand
    qtbot.waitUntil(lambda: len(previews) >= 3 and len(ticks) > 20, timeout=RENDER_MS)
    paint_gap = _largest_gap(ticks)
    panel = painting.sound.panel
    assert panel.load_file(rain_wav)
    start = len(previews)
    panel.live_button.click()
    qtbot.waitUntil(lambda: len(previews) >= start + 10, timeout=RENDER_MS)
    panel.live_button.click()
    timer.stop()
    overall = _largest_gap(ticks)
    print(f"\nUI heartbeat gap: painting {paint_gap * 1000:.0f} ms, with live sound {overall * 1000:.0f} ms")
    assert overall < 2.0


def test_welcome_lists_the_sounds_the_encoder_knows(window: MainWindow) -> None:
    from PySide6.QtWidgets import QLabel

    texts = " ".join(label.text() for label in window.welcome.findChildren(QLabel))
    assert "Sounds it understands" in texts.title() or "SOUNDS IT UNDERSTANDS" in texts
    assert "Heavy rain" in texts and "rainy" in texts


def test_compare_and_tags_from_the_window(qtbot, window: MainWindow) -> None:
    from studio.project.tags import load_tags

    ids = generate(qtbot, window, "a lake", seed=1)
    window.select_node(ids[0])
    assert window.compare_with_parent() is None  # a root has no parent
    window.select_node(ids[2])
    dialog = window.compare_with_previous()
    assert dialog is not None and dialog.table.rowCount() >= 1  # seed 1 → 3
    dialog.close()
    window.history.tags_edited.emit(ids[2], ["keeper", "lake"])
    assert load_tags(window.project)[ids[2]] == ["keeper", "lake"]
    window.undo_stack.undo()
    assert ids[2] not in load_tags(window.project)


def test_find_by_meaning_and_by_sound_fill_the_grid(qtbot, window: MainWindow, rain_wav: Path) -> None:
    snowy = generate(qtbot, window, "snowy mountain peaks in winter", seed=1)
    generate(qtbot, window, "a sunny sandy beach by the sea", seed=1)
    with qtbot.waitSignal(window.search_shown, timeout=RENDER_MS) as blocker:
        window.find_similar(text="glaciers and snow")
    assert blocker.args[0][0] in snowy
    assert window.grid.node_ids() == blocker.args[0]
    with qtbot.waitSignal(window.search_shown, timeout=RENDER_MS) as blocker:
        window.find_similar(sound=rain_wav)
    assert len(blocker.args[0]) == 8


def test_contact_sheet_and_project_zip_round_trip(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PIL import Image

    roots = generate(qtbot, window, "snowy peaks", seed=1)
    window.select_node(roots[0])
    children = generate(qtbot, window, "snowy peaks at night", seed=5)
    sheet = tmp_path / "branch.png"
    window.export_contact_sheet(roots[0], sheet)
    qtbot.waitUntil(lambda: "5 images" in window.statusBar().currentMessage(), timeout=RENDER_MS)
    assert Image.open(sheet).size[0] == 6 * 128
    archive = tmp_path / "project.zip"
    window.export_zip(archive)
    qtbot.waitUntil(
        lambda: archive.is_file() and "Exported" in window.statusBar().currentMessage(), timeout=RENDER_MS
    )
    window.import_zip(archive, tmp_path / "copy")
    qtbot.waitUntil(lambda: Path(window.project.path) == tmp_path / "copy", timeout=RENDER_MS)
    assert {n.id for n in window.project.nodes()} == set(roots) | set(children)
    bad = tmp_path / "evil.zip"
    import zipfile

    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../escape.txt", "x")
    with qtbot.waitSignal(window.message_shown, timeout=RENDER_MS) as blocker:
        window.import_zip(bad, tmp_path / "evil")
    assert not (tmp_path / "evil").exists() and blocker.args[0]


def test_undo_history_survives_a_restart(qtbot, studio_env: Path, project_dir: Path) -> None:
    win = open_window(qtbot, project_dir)
    ids = generate(qtbot, win, "a lake", seed=1)
    win.set_star(ids[0], True)
    win.set_note(ids[0], "keep this")
    win.delete_node(ids[1])
    win.undo_stack.undo()  # the delete is undone before closing: redo must still be possible
    assert ids[1] in {n.id for n in win.project.nodes()}
    win.close()
    again = open_window(qtbot, project_dir)
    stack = again.undo_stack
    assert stack.count() == 4 and stack.index() == 3 and stack.canRedo()
    stack.redo()  # delete again
    assert ids[1] not in {n.id for n in again.project.nodes()}
    stack.undo()
    stack.undo()  # note
    assert again.project.node(ids[0]).note == ""
    stack.undo()  # star
    assert not again.project.node(ids[0]).starred
    stack.undo()  # generate → trashed
    assert again.project.nodes() == []
    again.close()


def test_thumbnails_are_decoded_off_the_ui_thread(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "a lake", seed=3)
    image = window.project.node(ids[0]).image
    qtbot.waitUntil(lambda: window.thumbs.has(image), timeout=RENDER_MS)
    icon = window.history.icon(ids[0])
    assert icon is not window.thumbs.placeholder
    pixels = icon.pixmap(64, 64).toImage()
    assert pixels.pixelColor(32, 32) != window.thumbs.placeholder.pixmap(64, 64).toImage().pixelColor(32, 32)


def test_painting_on_a_blank_canvas_renders_live_and_keeps_a_root(qtbot, window: MainWindow) -> None:
    assert window.project.nodes() == []
    window.show_paint()
    qtbot.waitUntil(lambda: window.paint.canvas.isVisible(), timeout=5000)
    canvas = window.paint.canvas
    canvas.current_class = CLASS_INDEX["sky"]
    canvas.brush_size = 80
    with qtbot.waitSignal(window.paint.preview_shown, timeout=RENDER_MS):
        _stroke(qtbot, canvas, (10, 40), (246, 40))
    assert window.project.nodes() == []  # a preview, not a node
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        window.paint.keep()
    node = window.project.node(blocker.args[0][0])
    assert node.kind == "paint" and node.parents == () and node.recipe.sketch is not None
