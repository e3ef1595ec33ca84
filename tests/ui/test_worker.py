"""The inference worker on a real pipeline and project: newest request wins, cancel, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from ui_helpers import LOAD_MS, RENDER_MS

from studio.project.store import Project
from ui.worker import RenderRequest, WorkerThread


class Relay(QObject):
    """Re-emits the worker's signals in the UI thread, where qtbot's wait loops live."""

    ready = Signal(object)
    finished = Signal(int, list, list)
    cancelled = Signal(int)
    failed = Signal(int, str)

    def __init__(self, worker) -> None:
        super().__init__()
        for name in ("ready", "finished", "cancelled", "failed"):
            getattr(worker, name).connect(getattr(self, name))  # signal → signal across threads: queued


@pytest.fixture
def runner(qtbot, studio_env: Path, tmp_path: Path) -> Iterator[tuple[WorkerThread, Project]]:
    project = Project.open(tmp_path / "worker-project")
    runner = WorkerThread("cpu")
    runner.relay = Relay(runner.worker)
    runner.worker.set_project(project)
    with qtbot.waitSignal(runner.relay.ready, timeout=LOAD_MS):
        runner.worker.load()
    yield runner, project
    runner.stop()
    project.close()


def test_newer_requests_replace_pending_ones(qtbot, runner) -> None:
    thread, project = runner
    worker = thread.worker
    started: list[int] = []
    finished: list[int] = []
    later: list[int] = []

    def on_started(stamp: int) -> None:  # runs in the worker thread, while request 1 is running
        started.append(stamp)
        if len(started) == 1:
            later.extend(
                worker.submit(RenderRequest(prompt=f"request {i}", seed=i, count=2)) for i in range(2, 6)
            )

    worker.started.connect(on_started, Qt.ConnectionType.DirectConnection)
    worker.finished.connect(lambda stamp, nodes, images: finished.append(stamp))
    first = worker.submit(RenderRequest(prompt="request 1", seed=1, count=2))
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=RENDER_MS)
    assert started == [first, later[-1]]
    assert finished == [first, later[-1]]
    assert [n.recipe.prompt for n in project.nodes()] == ["request 1"] * 2 + ["request 5"] * 2


def test_cancel_drops_the_running_result(qtbot, runner) -> None:
    thread, project = runner
    worker = thread.worker
    worker.started.connect(lambda stamp: worker.cancel(), Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(thread.relay.cancelled, timeout=RENDER_MS) as blocker:
        stamp = worker.submit(RenderRequest(prompt="never shown"))
    assert blocker.args == [stamp]
    assert project.nodes() == []


def test_finished_nodes_are_committed_and_images_match(qtbot, runner) -> None:
    thread, project = runner
    with qtbot.waitSignal(thread.relay.finished, timeout=RENDER_MS) as blocker:
        thread.worker.submit(RenderRequest(prompt="a lake", seed=9, count=4, size=64))
    _stamp, nodes, images = blocker.args
    assert [n.id for n in nodes] == [n.id for n in project.nodes()]
    assert all(img.shape == (64, 64, 3) for img in images)
    assert [n.recipe.seed for n in nodes] == [9, 10, 11, 12]


def test_errors_become_messages(qtbot, runner) -> None:
    thread, project = runner
    with qtbot.waitSignal(thread.relay.failed, timeout=RENDER_MS) as blocker:
        thread.worker.submit(RenderRequest(prompt="x", model="no-such-model"))
    assert "no-such-model" in blocker.args[1]
    with qtbot.waitSignal(thread.relay.failed, timeout=RENDER_MS) as blocker:
        thread.worker.submit(RenderRequest(prompt="x", parents=("not-a-node",)))
    assert "Rendering failed" in blocker.args[1]
    assert project.nodes() == []
    with qtbot.waitSignal(thread.relay.finished, timeout=RENDER_MS):  # still alive afterwards
        thread.worker.submit(RenderRequest(prompt="x", count=1))


def test_no_project_is_an_error_message(qtbot, runner) -> None:
    thread, _project = runner
    thread.worker.set_project(None)
    with qtbot.waitSignal(thread.relay.failed, timeout=RENDER_MS) as blocker:
        thread.worker.submit(RenderRequest(prompt="x"))
    assert "no project" in blocker.args[1]
