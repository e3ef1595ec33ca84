"""Hear the picture from the window: Play loops the selected picture's ambience until Stop or another
selection, Export sound writes it — real window, tiny generator, shipped segmenter. Only the sound
output device is replaced: no machine running the tests has a speaker."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
import sounddevice
import soundfile
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QInputDialog, QProgressDialog, QPushButton
from ui_helpers import RENDER_MS, generate

from studio.ambience import MAX_LOOP_SECONDS, picture_ambience, render_loop
from ui.main_window import MainWindow
from ui.worker import Job


class FakeOutput:
    """Stands in for sounddevice.OutputStream: pulls samples from the callback as a device would."""

    streams: list[FakeOutput] = []

    def __init__(self, samplerate: int, channels: int, dtype: str, callback) -> None:
        self.rate, self.channels, self.callback = samplerate, channels, callback
        self.started = self.closed = False
        FakeOutput.streams.append(self)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int, block: int = 4096) -> np.ndarray:
        out = []
        for start in range(0, frames, block):
            buf = np.zeros((min(block, frames - start), self.channels), np.float32)
            self.callback(buf, len(buf), None, None)
            out.append(buf[:, 0])
        return np.concatenate(out)


@pytest.fixture
def speaker(monkeypatch) -> type[FakeOutput]:
    FakeOutput.streams = []
    monkeypatch.setattr(sounddevice, "OutputStream", FakeOutput)
    return FakeOutput


def test_play_loops_the_pictures_ambience_until_stopped_or_another_is_selected(
    qtbot, window: MainWindow, speaker
) -> None:
    ids = generate(qtbot, window, "a lake in the rain", seed=3)
    window.select_node(ids[0])
    bar, hear = window.ambience.bar, window.ambience
    bar.play_button.click()
    assert bar.play_button.text() == "Stop"  # at once, while the scene is read
    qtbot.waitUntil(lambda: hear.player is not None, timeout=RENDER_MS)
    (stream,) = speaker.streams
    assert stream.started and stream.rate == 16000 and stream.channels == 1
    assert hear.ambience.kinds[0] == "rain" and "Rain (weather rainy)" in hear.ambience.describe()
    assert window.toast.text().startswith("Playing: Rain (weather rainy)")
    loop = render_loop(hear.ambience, MAX_LOOP_SECONDS)
    played = stream.pull(len(loop) + 20_000)
    assert np.array_equal(played, np.concatenate([loop, loop[:20_000]]))  # round and round, no gap

    window.select_node(ids[1])  # another picture: its sound is not this one
    assert stream.closed and hear.player is None and bar.play_button.text() == "Play"
    bar.play_button.click()
    qtbot.waitUntil(lambda: len(speaker.streams) == 2 and speaker.streams[1].started, timeout=RENDER_MS)
    bar.play_button.click()
    assert speaker.streams[1].closed and bar.play_button.text() == "Play" and not bar.play_button.isChecked()


def test_no_output_device_says_so(qtbot, window: MainWindow, monkeypatch) -> None:
    def no_device(**_kwargs):
        raise sounddevice.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sounddevice, "OutputStream", no_device)
    ids = generate(qtbot, window, "a lake in the rain", seed=3)
    window.select_node(ids[0])
    with qtbot.waitSignal(window.session.notified, timeout=RENDER_MS) as said:
        window.ambience.bar.play_button.click()
    assert "no working sound output device" in said.args[0]
    assert window.ambience.player is None and window.ambience.bar.play_button.text() == "Play"


def test_export_sound_writes_a_seamless_file_of_the_chosen_length(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch
) -> None:
    ids = generate(qtbot, window, "a lake in the rain", seed=3)
    window.select_node(ids[0])
    asked: list[str] = []

    def save_as(_parent, _title, suggested, _filters):
        asked.append(suggested)
        return str(tmp_path / "rainy"), "FLAC sound (*.flac)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    monkeypatch.setattr(QInputDialog, "getInt", lambda *_args: (12, True))
    with qtbot.waitSignal(window.session.notified, timeout=RENDER_MS) as said:
        next(
            a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Export Soun&d…"
        ).trigger()
    assert asked == ["a-lake-in-the-rain-seed3.flac"]
    out = tmp_path / "rainy.flac"
    assert said.args[0].startswith(f"Sound exported: {out} (12 s: Rain (weather rainy)")
    info = soundfile.info(out)
    assert (info.format, info.samplerate, info.channels, info.frames) == ("FLAC", 16000, 1, 12 * 16000)
    node = window.project.node(ids[0])
    pixels = np.asarray(Image.open(io.BytesIO(window.project.assets.get(node.image))).convert("RGB"))
    ambience, _scene = picture_ambience(window.worker._pipe, pixels, node.recipe)
    samples, _ = soundfile.read(out, dtype="float32")
    assert np.allclose(samples, render_loop(ambience, 12.0), atol=1e-4)  # the picture's loop, one 12 s period
    wav = tmp_path / "short.wav"
    job = window.ambience.export(ids[0], wav, 2)
    qtbot.waitUntil(lambda: job.state == "done", timeout=RENDER_MS)
    assert (soundfile.info(wav).format, soundfile.info(wav).frames) == ("WAV", 2 * 16000)


def test_cancelling_an_export_leaves_no_file(qtbot, window: MainWindow, tmp_path: Path) -> None:
    ids = generate(qtbot, window, "a lake in the rain", seed=3)
    started, release = threading.Event(), threading.Event()
    window.session.submit(Job(run=lambda *_: (started.set(), release.wait(10)), lane="blocker"))
    assert started.wait(RENDER_MS / 1000)  # the export waits behind it
    job = window.ambience.export(ids[0], tmp_path / "x.wav", 60)
    (dialog,) = window.ambience.bar.findChildren(QProgressDialog)
    dialog.findChild(QPushButton).click()
    release.set()
    assert job.state == "cancelled" and "nothing was written" in window.toast.text()
    assert list(tmp_path.glob("x.wav*")) == []
