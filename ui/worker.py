"""The one inference thread: owns the Pipeline, renders, commits nodes, and drops stale requests.

Like stylegan3's AsyncRenderer, only the newest pending request is kept: while the running one
finishes, older pending requests are replaced. Nodes are committed (durably) here, off the UI
thread, and only then announced, so the UI never shows an image that is not in the project.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from studio.inference.pipeline import Pipeline
from studio.project.store import Node, Project
from studio.recipe import Recipe

log = logging.getLogger(__name__)

NO_GENERATOR_HINT = (
    "No generator model is installed. Put a generator (NAME.onnx + NAME.json) and the text encoder "
    "into the models folder, or train one with `studio train` and `studio export`."
)


@dataclass(frozen=True)
class RenderRequest:
    """One unit of work: either prompt + seed + count, or explicit recipes (import, re-render)."""

    prompt: str = ""
    seed: int = 1
    count: int = 4
    size: int = 128
    model: str | None = None
    kind: str = "generate"
    parents: tuple[str, ...] = ()
    recipes: tuple[Recipe, ...] = ()
    stamp: int = 0


@dataclass(frozen=True)
class PipelineInfo:
    """What the UI shows about the loaded pipeline (welcome panel, status bar)."""

    provider: str
    generators: list = field(default_factory=list)  # list[ModelInfo]
    default: object | None = None  # ModelInfo


def png_bytes(image: np.ndarray) -> bytes:
    """The pixel cache stored in the project: plain PNG (the recipe lives in the node row)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG", compress_level=4)
    return buf.getvalue()


class InferenceWorker(QObject):
    """Lives in its own QThread; submit()/cancel()/configure() are safe to call from any thread."""

    started = Signal(int)  # stamp: the request is now running
    finished = Signal(int, list, list)  # stamp, committed nodes, HxWx3 uint8 images
    cancelled = Signal(int)  # stamp: its result was dropped, nothing committed
    failed = Signal(int, str)  # stamp (0 = loading), a message for the user
    status = Signal(str)  # short progress text ("Loading models…")
    ready = Signal(object)  # PipelineInfo, after the pipeline loaded
    unavailable = Signal(str)  # no usable generator: a message saying what to install
    stats = Signal(str, str, float)  # provider, model name, ms per image
    notice = Signal(str)  # e.g. CUDA fell back to CPU
    _wake = Signal()

    def __init__(self, device: str = "auto") -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._stamps = itertools.count(1)
        self._pending: RenderRequest | None = None
        self._cancelled_upto = 0
        self._project: Project | None = None
        self._device = device
        self._loaded_device: str | None = None
        self._pipe: Pipeline | None = None
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # --- any thread ---------------------------------------------------------------------------
    def submit(self, request: RenderRequest) -> int:
        """Queue a request, replacing any older pending one; returns its stamp."""
        with self._lock:
            stamp = next(self._stamps)
            self._pending = replace(request, stamp=stamp)
        self._wake.emit()
        return stamp

    def cancel(self) -> None:
        """Drop pending work and the result of the running request (it will not be committed)."""
        with self._lock:
            self._pending = None
            self._cancelled_upto = next(self._stamps)

    def set_project(self, project: Project | None) -> None:
        with self._lock:
            self._project = project

    def configure(self, device: str) -> None:
        """Change the device; the pipeline is rebuilt lazily before the next request."""
        with self._lock:
            self._device = device
        self._wake.emit()

    def load(self) -> None:
        """Load the pipeline now (off the UI thread) so the welcome panel can show the model."""
        self._wake.emit()

    # --- worker thread ------------------------------------------------------------------------
    @Slot()
    def _drain(self) -> None:
        pipe = self._ensure_pipeline()
        with self._lock:
            request, self._pending = self._pending, None
        if request is None:
            return
        if pipe is None:
            self.failed.emit(request.stamp, NO_GENERATOR_HINT)
            return
        try:
            self._run(pipe, request)
        except Exception as exc:  # a worker must never raise into Qt's event loop
            log.exception("render failed")
            self.failed.emit(request.stamp, f"Rendering failed: {exc}")

    def _ensure_pipeline(self) -> Pipeline | None:
        with self._lock:
            device = self._device
        if self._pipe is not None and self._loaded_device == device:
            return self._pipe
        self._pipe = None
        self.status.emit("Loading models…")
        try:
            pipe = Pipeline(device=device)
            default = pipe.default_generator()
            generators = pipe.generators()
        except Exception as exc:  # a missing or broken model folder is a message, not a crash
            log.warning("no usable generator: %s", exc)
            self.unavailable.emit(f"{NO_GENERATOR_HINT}\n\nDetails: {exc}")
            return None
        self._pipe, self._loaded_device = pipe, device
        self.ready.emit(PipelineInfo(provider=pipe.provider, generators=generators, default=default))
        self._forward_notices(pipe)
        return pipe

    def _run(self, pipe: Pipeline, request: RenderRequest) -> None:
        self.started.emit(request.stamp)
        with self._lock:
            project = self._project
        if project is None:
            raise RuntimeError("no project is open")
        recipes = list(request.recipes) or pipe.recipes_for(
            request.prompt, seed=request.seed, count=request.count, model=request.model, size=request.size
        )
        images = pipe.render(recipes, assets=project.assets)
        self._forward_notices(pipe)
        pngs = [png_bytes(image) for image in images]
        with self._lock:
            dropped = request.stamp <= self._cancelled_upto or project is not self._project
        if dropped:
            self.cancelled.emit(request.stamp)
            return
        nodes: list[Node] = [
            project.add_node(kind=request.kind, recipe=recipe, image_png=png, parents=list(request.parents))
            for recipe, png in zip(recipes, pngs, strict=True)
        ]
        model = recipes[0].model if recipes else ""
        self.stats.emit(pipe.provider, model, float(pipe.last_ms_per_image))
        self.finished.emit(request.stamp, nodes, list(images))

    def _forward_notices(self, pipe: Pipeline) -> None:
        for text in pipe.drain_notices():
            self.notice.emit(text)


class WorkerThread:
    """Starts an InferenceWorker in its own QThread and stops it cleanly."""

    def __init__(self, device: str = "auto") -> None:
        self.thread = QThread()
        self.thread.setObjectName("inference")
        self.worker = InferenceWorker(device)
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self) -> None:
        self.worker.cancel()
        self.thread.quit()
        self.thread.wait()
