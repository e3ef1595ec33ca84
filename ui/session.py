"""What controllers work with instead of the window: the open project, settings, the undo stack,
the one inference worker and messages for the artist.

Like krita-ai-diffusion (one model object per panel, replies looked up by job) and napari's
thread_worker (a job carries its callbacks), work is submitted here with its own callbacks and
the session hands each reply to the job it answers, on the GUI thread. No controller filters
replies: a newer request of a live lane replaces the waiting ones (the one rendering still
shows: the newest finished frame wins); cancelling or closing the project ends the jobs as
cancelled, and replies still on their way for them are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QUndoStack
from PySide6.QtWidgets import QProgressDialog, QWidget

from studio.project.store import Node, Project
from ui.image_view import to_qimage
from ui.settings import Settings
from ui.worker import Job, PipelineInfo, RenderRequest, WorkerThread

log = logging.getLogger(__name__)


@dataclass(eq=False)
class JobHandle:
    """A submitted request. It ends once, with on_done(result), on_error(message) or on_cancelled()
    (cancelled, replaced by a newer request of its lane, or its project closed); `state` says which.

    Results: a committing RenderRequest gives (nodes, images), a preview (image, recipe), a Job
    what its run returned.
    """

    stamp: int
    lane: str
    replaceable: bool  # live work (not queued, stores nothing): a newer request of its lane makes it stale
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    on_cancelled: Callable[[], None] | None = None
    state: str = "running"  # then "done", "failed" or "cancelled"


class Session(QObject):
    """Owns the worker thread and the jobs in flight; the window shows what its signals say."""

    notified = Signal(str)  # a message for the artist (toast and status bar)
    status_shown = Signal(str, int)  # status bar text, milliseconds (0: until replaced)
    failed = Signal(str)  # a request failed (already notified): the window's message_shown
    committed = Signal(list, bool)  # nodes now in the project; True when from the latest commit
    ready = Signal(object)  # PipelineInfo, after the models loaded (`info` is set first)
    selection_changed = Signal(str)  # the node the artist works on now ("" for none)

    def __init__(
        self, project: Project, settings: Settings, device: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.settings = settings
        self.undo_stack = QUndoStack(self)
        self.info: PipelineInfo | None = None
        self.selected = ""  # the node edits start from: one answer for every controller
        self._images: dict[str, QImage] = {}
        self._jobs: dict[int, JobHandle] = {}
        self._latest: JobHandle | None = None
        self._closed = False
        self._runner = WorkerThread(device or settings.device)
        self.worker = self._runner.worker
        self.worker.set_project(project)
        w = self.worker
        w.ready.connect(self._on_ready)
        w.status.connect(self.status)
        w.notice.connect(self.notify)
        w.finished.connect(self._on_finished)
        w.preview.connect(self._on_preview)
        w.job_done.connect(self._on_job_done)
        w.job_progress.connect(self._on_progress)
        w.failed.connect(self._on_failed)
        w.refused.connect(self._on_refused)
        w.cancelled.connect(self._on_cancelled)

    # --- submitting -----------------------------------------------------------------------------
    def submit(
        self,
        work: RenderRequest | Job,
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> JobHandle:
        """Run `work` in the worker; its reply goes to these callbacks (errors are also notified).

        Not queued: the worker drops the waiting requests of its lane (they end cancelled), but
        the one already rendering still delivers — a live lane (paint, sound, prompt) shows its
        newest *finished* frame, so the picture keeps moving while the artist keeps moving."""
        stamp = self.worker.submit(work)
        replaceable = not work.queued and not (isinstance(work, RenderRequest) and work.commit)
        handle = JobHandle(stamp, work.lane, replaceable, on_done, on_error, on_progress, on_cancelled)
        self._jobs[stamp] = handle
        return handle

    def submit_with_dialog(
        self, job: Job, parent: QWidget, title: str, text: str, done: Callable[[Any], str], cancelled: str
    ) -> JobHandle:
        """Run a long job with a progress dialog of its own: Cancel drops the work, the dialog
        closes when the job ends, and `done(result)` (empty: say nothing) or `cancelled` is told
        to the artist; errors are notified by the session as always."""
        dialog = QProgressDialog(text, "Cancel", 0, 0, parent)
        dialog.setWindowTitle(title)
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.canceled.connect(self.cancel)

        def finish(message: str) -> None:
            dialog.canceled.disconnect(self.cancel)  # closing emits canceled: cancel nothing else
            dialog.close()
            if message:
                self.notify(message)

        def progress(count: int, total: int) -> None:
            dialog.setMaximum(max(1, total))
            dialog.setValue(count)

        handle = self.submit(
            job,
            on_done=lambda result: finish(done(result)),
            on_error=lambda _message: finish(""),
            on_progress=progress,
            on_cancelled=lambda: finish(cancelled),
        )
        dialog.show()
        return handle

    def commit(self, request: RenderRequest, queued: bool = True) -> JobHandle:
        """Render and store nodes, announced by `committed`. Queued (keep, masked regeneration,
        sound edits) runs in order and is never replaced; not queued (Generate) replaces the
        pending one of its lane."""
        if queued:
            request = replace(request, queued=True, lane="commit")
        handle = self.submit(request, on_done=lambda reply: self._committed(handle, *reply))
        self._latest = handle
        self.status("Rendering…")
        return handle

    def _committed(self, handle: JobHandle, nodes: list[Node], images: list) -> None:
        for node, image in zip(nodes, images, strict=True):
            self._images.setdefault(node.image, to_qimage(image))
        self.committed.emit(nodes, handle is self._latest)

    def cancel(self) -> None:
        """Drop pending and running work (Esc, or Cancel on a progress dialog)."""
        self.worker.cancel()
        self.status("Cancelled", 3000)

    # --- the project --------------------------------------------------------------------------
    def close_project(self) -> None:
        """Stop the open project's work; replies still on their way belong to it and are dropped."""
        self.worker.cancel()
        self.worker.set_project(None)
        for handle in list(self._jobs.values()):
            self._cancel(handle)
        self.project.close()

    def set_project(self, project: Project) -> None:
        """Work on `project` from now on (the open one is closed first if it still is open)."""
        if project is not self.project and not self.project.closed:
            self.close_project()
        self.project = project
        self.worker.set_project(project)
        self._images.clear()
        self.select("")

    def select(self, node_id: str) -> None:
        """Make `node_id` the node the artist works on ("" for none); controllers follow the signal."""
        if node_id != self.selected:
            self.selected = node_id
            self.selection_changed.emit(node_id)

    def image_for(self, node: Node) -> QImage:
        """The node's picture, decoded once (a commit's rendered images are kept as they arrive)."""
        image = self._images.get(node.image)
        if image is None:
            image = QImage.fromData(self.project.assets.get(node.image))
            self._images[node.image] = image
        return image

    def close(self) -> None:
        """The window closes: nothing more is delivered, the worker stops, the project closes."""
        self._closed = True
        self._jobs.clear()
        self._runner.stop()
        self.project.close()  # idempotent

    # --- messages -----------------------------------------------------------------------------
    def notify(self, text: str) -> None:
        """Non-modal: the window shows it as a toast and in the status bar; never blocks the artist."""
        if not self._closed:
            self.notified.emit(text)

    def status(self, text: str, ms: int = 0) -> None:
        if not self._closed:
            self.status_shown.emit(text, ms)

    # --- replies (queued from the worker thread, so they run here on the GUI thread) ------------
    def _end(self, stamp: int, state: str) -> JobHandle | None:
        handle = self._jobs.pop(stamp, None)
        if handle is not None:
            handle.state = state
        return handle

    def _cancel(self, handle: JobHandle) -> None:
        if self._end(handle.stamp, "cancelled") is not None and handle.on_cancelled is not None:
            handle.on_cancelled()

    def _done(self, stamp: int, result: Any) -> None:
        handle = self._end(stamp, "done")
        if handle is None:
            return
        if handle.replaceable:  # anything older of its live lane still in flight is stale now
            for old in [h for h in self._jobs.values() if h.lane == handle.lane and h.replaceable]:
                if old.stamp < stamp:
                    self._cancel(old)
        if handle.on_done is not None:
            handle.on_done(result)

    def _on_finished(self, stamp: int, nodes: list, images: list) -> None:
        self._done(stamp, (nodes, images))

    def _on_preview(self, stamp: int, image: Any, recipe: Any) -> None:
        self._done(stamp, (image, recipe))

    def _on_job_done(self, stamp: int, result: Any) -> None:
        self._done(stamp, result)

    def _on_progress(self, stamp: int, done: int, total: int) -> None:
        handle = self._jobs.get(stamp)
        if handle is not None and handle.on_progress is not None:
            handle.on_progress(done, total)

    def _on_failed(self, stamp: int, message: str) -> None:
        """Every failure reaches the artist, also one of a job nobody waits for any more."""
        handle = self._end(stamp, "failed")
        if handle is not None and handle.on_error is not None:
            handle.on_error(message)
        if not self._closed:
            self.notify(message)
            self.failed.emit(message)

    def _on_refused(self, stamp: int, message: str) -> None:
        """A job that cannot be done says why; a stale one (replaced, project closed) stays quiet."""
        handle = self._end(stamp, "failed")
        if handle is None:
            return
        if handle.on_error is not None:
            handle.on_error(message)
        self.notify(message)

    def _on_cancelled(self, stamp: int) -> None:
        handle = self._jobs.get(stamp)
        if handle is not None:
            self._cancel(handle)
        log.info("result of request %d dropped", stamp)

    def _on_ready(self, info: PipelineInfo) -> None:
        if not self._closed:
            self.info = info
            self.ready.emit(info)
