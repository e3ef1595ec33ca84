"""The Session: controllers built on it alone, and every reply delivered to its own job's callbacks
(real worker thread, tiny real models)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from ui_helpers import LOAD_MS, RENDER_MS

from studio.project.store import Project
from ui.image_view import ImageView
from ui.session import Session
from ui.settings import Settings
from ui.variations_controller import VariationsController
from ui.worker import Job, JobError, RenderRequest


@pytest.fixture
def session(qtbot, studio_env: Path, project_dir: Path) -> Iterator[Session]:
    session = Session(Project.open(project_dir), Settings(count=2, size=64), device="cpu")
    with qtbot.waitSignal(session.ready, timeout=LOAD_MS):
        session.worker.load()
    yield session
    session.close()


def _commit(qtbot, session: Session, prompt: str) -> list:
    with qtbot.waitSignal(session.committed, timeout=RENDER_MS) as blocker:
        session.commit(RenderRequest(prompt=prompt, seed=1, count=2, size=64), queued=False)
    return blocker.args[0]


def _drain(qtbot, session: Session) -> None:
    """Everything submitted before has answered: the worker's queue is first in, first out."""
    done: list[object] = []
    session.submit(Job(run=lambda *_: "drained", lane="test-drain"), on_done=done.append)
    qtbot.waitUntil(lambda: done == ["drained"], timeout=RENDER_MS)


def _replied(session: Session) -> threading.Event:
    """Set in the worker thread the moment it emits a Job's reply (before the GUI thread sees it)."""
    event = threading.Event()
    session.worker.job_done.connect(lambda *_: event.set(), Qt.ConnectionType.DirectConnection)
    return event


def test_a_controller_needs_only_a_session(qtbot, session: Session) -> None:
    nodes = _commit(qtbot, session, "a misty lake")
    view = ImageView()
    qtbot.addWidget(view)
    controller = VariationsController(session, view)
    session.select(nodes[0].id)
    assert controller.parent() is session and session.parent() is None  # no window anywhere
    preview = controller.step_seed(1)
    qtbot.waitUntil(view.has_image, timeout=RENDER_MS)  # the preview reached this controller's view
    assert preview.state == "done"
    with qtbot.waitSignal(session.committed, timeout=RENDER_MS) as blocker:
        controller.vary()
    assert all(node.parents == (nodes[0].id,) and node.kind == "vary" for node in blocker.args[0])


def test_jobs_in_flight_each_get_their_own_reply(qtbot, session: Session) -> None:
    node = _commit(qtbot, session, "snowy peaks")[0]
    replies: dict[str, list] = {"a": [], "b": [], "preview": [], "commit": [], "progress": []}

    def run_a(_pipe, _project, progress):
        progress(1, 2)
        return "a"

    jobs = {
        "a": session.submit(
            Job(run=run_a), on_done=replies["a"].append, on_progress=lambda *p: replies["progress"].append(p)
        ),
        "preview": session.submit(
            RenderRequest(recipes=(node.recipe.replace(seed=7),), commit=False, lane="paint"),
            on_done=replies["preview"].append,
        ),
        "b": session.submit(Job(run=lambda *_: "b"), on_done=replies["b"].append),
        "commit": session.submit(
            RenderRequest(prompt="a bay", seed=3, count=1, size=64, lane="commit", queued=True),
            on_done=replies["commit"].append,
        ),
    }
    qtbot.waitUntil(lambda: all(job.state == "done" for job in jobs.values()), timeout=RENDER_MS)
    assert replies["a"] == ["a"] and replies["b"] == ["b"] and replies["progress"] == [(1, 2)]
    (image, recipe), (nodes, images) = replies["preview"][0], replies["commit"][0]
    assert recipe.seed == 7 and image.shape == (64, 64, 3)
    assert [n.recipe.prompt for n in nodes] == ["a bay"] and len(images) == 1


def test_a_live_lane_shows_its_newest_finished_frame(qtbot, session: Session) -> None:
    """The frame rendering when newer ones arrive still shows (live paint and sound keep moving);
    the waiting ones a newer one replaced end cancelled, and the newest shows last."""
    started, release = threading.Event(), threading.Event()

    def rendering(_pipe, _project, _progress) -> str:
        started.set()
        release.wait(10)
        return "running"

    shown: list[str] = []
    ended: list[str] = []
    running = session.submit(Job(run=rendering, lane="live", queued=False), on_done=shown.append)
    assert started.wait(RENDER_MS / 1000)
    waiting = session.submit(
        Job(run=lambda *_: "waiting", lane="live", queued=False),
        on_done=shown.append,
        on_cancelled=lambda: ended.append("waiting"),
    )
    newest = session.submit(Job(run=lambda *_: "newest", lane="live", queued=False), on_done=shown.append)
    release.set()
    _drain(qtbot, session)
    assert shown == ["running", "newest"] and ended == ["waiting"]
    assert (running.state, waiting.state, newest.state) == ("done", "cancelled", "done")


def test_closing_the_project_drops_its_replies(qtbot, session: Session, tmp_path: Path) -> None:
    replied = _replied(session)
    done, cancelled = [], []
    job = session.submit(
        Job(run=lambda *_: "late"), on_done=done.append, on_cancelled=lambda: cancelled.append(True)
    )
    assert replied.wait(RENDER_MS / 1000)
    session.set_project(Project.open(tmp_path / "other"))
    _drain(qtbot, session)
    assert done == [] and cancelled == [True] and job.state == "cancelled"


def test_cancel_ends_running_and_pending_jobs(qtbot, session: Session) -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def blocking(_pipe, _project, _progress) -> str:
        started.set()
        release.wait(10)
        return "ran"

    running = session.submit(Job(run=blocking), on_done=ended.append, on_cancelled=lambda: ended.append("1"))
    pending = session.submit(
        Job(run=lambda *_: "x"), on_done=ended.append, on_cancelled=lambda: ended.append("2")
    )
    assert started.wait(RENDER_MS / 1000)
    session.cancel()
    assert pending.state == "cancelled" and ended == ["2"]
    release.set()
    qtbot.waitUntil(lambda: running.state == "cancelled", timeout=RENDER_MS)
    assert ended == ["2", "1"]


def test_errors_go_to_their_job_and_to_the_artist(qtbot, session: Session) -> None:
    def broken(*_):
        raise RuntimeError("the disk caught fire")

    def refused(*_):
        raise JobError("No segmenter is installed")

    errors, done, failures = [], [], []
    session.failed.connect(failures.append)
    with qtbot.waitSignal(session.notified, timeout=RENDER_MS) as note:
        job = session.submit(Job(run=broken), on_done=done.append, on_error=errors.append)
    assert note.args[0] == errors[0] == failures[0] == "The task failed: the disk caught fire"
    assert job.state == "failed" and done == []
    with qtbot.waitSignal(session.notified, timeout=RENDER_MS) as note:
        session.submit(Job(run=refused), on_done=done.append, on_error=errors.append)
    assert note.args[0] == errors[1] == "No segmenter is installed"
    assert len(failures) == 1 and done == []  # a refusal is a notice, not a failure
