"""The one inference thread: owns the Pipeline, renders, commits nodes, and drops stale requests.

Like stylegan3's AsyncRenderer, a newer request replaces an older *pending* one of the same lane
(typing a new prompt, every paint stroke and every live sound frame supersede the previous one),
while requests that must not be lost (capture, apply a sound, regenerate in a mask, analyse a
sound, animate) queue in order. Nodes are committed (durably) here, off the UI thread, and only
then announced, so the UI never shows an image that is not in the project.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from studio.inference.pipeline import AssetSource, MemoryAssets, Pipeline
from studio.project.store import Node, Project
from studio.recipe import Recipe

log = logging.getLogger(__name__)

NO_GENERATOR_HINT = (
    "No generator model is installed. Put a generator (NAME.onnx + NAME.json) and the text encoder "
    "into the models folder, or train one with `studio train` and `studio export`."
)


@dataclass(frozen=True)
class RenderRequest:
    """One unit of work: either prompt + seed + count, or explicit recipes (import, re-render).

    `imagine_layout` gives prompt-only variations a layout (studio.inference.layout), stored in the
    project as their sketch. `commit=False` renders a preview (live paint or sound) that is shown,
    not stored; `live_sound` (mono samples at the sound encoder's rate) moves the conditioning
    toward the sound by `strength` (leaving the `sound_hold` groups alone); `pin_sound` stamps the
    recipes' new sound with the encoder that hears it (studio.inference.sound_pin), so the edit
    re-renders the same after a newer encoder is installed; `memory_assets` are
    assets a preview uses that the project does not hold yet.
    `lane` groups requests that supersede each other; `queued=True` requests never do.
    """

    prompt: str = ""
    seed: int = 1
    count: int = 4
    size: int = 128
    model: str | None = None
    kind: str = "generate"
    parents: tuple[str, ...] = ()
    recipes: tuple[Recipe, ...] = ()
    sketch: str | None = None  # asset id of a painted sketch the prompt's variations follow
    imagine_layout: bool = False  # give prompt-only variations a layout from the layout prior
    attributes: tuple[tuple[str, str], ...] = ()  # scene attributes the artist pinned over the prompt's
    commit: bool = True
    live_sound: Any = None
    strength: float = 0.0
    sound_hold: tuple[str, ...] = ()  # attribute groups the live sound leaves alone (unticked changes)
    pin_sound: bool = False
    memory_assets: tuple[tuple[str, bytes], ...] = ()
    lane: str = "render"
    queued: bool = False
    stamp: int = 0


class JobError(Exception):
    """A job cannot be done for a reason the artist can act on (no segmenter installed): the
    message is shown as it is, not as a crash."""


@dataclass(frozen=True)
class Job:
    """Other work for the inference thread (analyse a sound, segment an image, animate): `run(pipe,
    project, progress)` returns a result handed to `done`; progress(done, total) → keep going.
    Raising JobError refuses it with a message for the artist."""

    run: Callable[..., Any]
    lane: str = "job"
    queued: bool = True
    stamp: int = 0


class LayeredAssets:
    """A preview's own assets first, then the project's."""

    def __init__(self, memory: MemoryAssets, project: AssetSource) -> None:
        self.memory, self.project = memory, project

    def get(self, sha: str) -> bytes:
        try:
            return self.memory.get(sha)
        except KeyError:
            return self.project.get(sha)


@dataclass(frozen=True)
class PipelineInfo:
    """What the UI shows about the loaded pipeline (welcome panel, status bar)."""

    provider: str
    generators: list = field(default_factory=list)  # list[ModelInfo]
    default: object | None = None  # ModelInfo
    sounds: list = field(default_factory=list)  # (display name, implied scene) the sound encoder knows
    layouts: bool = False  # a layout prior can imagine layouts for the default generator
    cpu_reason: str = ""  # why the CPU runs the models ("no NVIDIA GPU found"), for the status bar


def png_bytes(image: np.ndarray) -> bytes:
    """The pixel cache stored in the project: plain PNG (the recipe lives in the node row)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG", compress_level=4)
    return buf.getvalue()


class InferenceWorker(QObject):
    """Lives in its own QThread; submit()/cancel()/configure() are safe to call from any thread."""

    started = Signal(int)  # stamp: the request is now running
    finished = Signal(int, list, list)  # stamp, committed nodes, HxWx3 uint8 images
    cancelled = Signal(int)  # stamp: dropped before it ran, or its result was; nothing committed
    failed = Signal(int, str)  # stamp (0 = loading), a message for the user
    refused = Signal(int, str)  # stamp, why a Job cannot be done (JobError): a notice, not a failure
    status = Signal(str)  # short progress text ("Loading models…")
    ready = Signal(object)  # PipelineInfo, after the pipeline loaded
    unavailable = Signal(str)  # no usable generator: a message saying what to install
    stats = Signal(str, str, float)  # provider, model name, ms per image
    notice = Signal(str)  # e.g. CUDA fell back to CPU
    preview = Signal(int, object, object)  # stamp, HxWx3 uint8 image, its Recipe (not committed)
    job_done = Signal(int, object)  # stamp, what a Job returned
    job_progress = Signal(int, int, int)  # stamp, done, total
    _wake = Signal()

    def __init__(self, device: str = "auto") -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._stamps = itertools.count(1)
        self._pending: deque[RenderRequest | Job] = deque()
        self._cancelled_upto = 0
        self._project: Project | None = None
        self._device = device
        self._loaded_device: str | None = None
        self._pipe: Pipeline | None = None
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # --- any thread ---------------------------------------------------------------------------
    def submit(self, request: RenderRequest | Job) -> int:
        """Queue a request, replacing older pending ones of its lane unless queued; returns its stamp.
        Every request ends with exactly one of finished, preview, job_done, failed, refused or
        cancelled (a replaced one too), so whoever waits on it is always answered."""
        with self._lock:
            stamp = next(self._stamps)
            dropped = []
            if not request.queued:
                dropped = [p.stamp for p in self._pending if not p.queued and p.lane == request.lane]
                self._pending = deque(p for p in self._pending if p.queued or p.lane != request.lane)
            self._pending.append(replace(request, stamp=stamp))
        for old in dropped:
            self.cancelled.emit(old)
        self._wake.emit()
        return stamp

    def cancel(self) -> None:
        """Drop pending work and the result of the running request (it will not be committed)."""
        with self._lock:
            dropped = [p.stamp for p in self._pending]
            self._pending.clear()
            self._cancelled_upto = next(self._stamps)
        for stamp in dropped:
            self.cancelled.emit(stamp)

    def is_cancelled(self, stamp: int) -> bool:
        with self._lock:
            return stamp <= self._cancelled_upto

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
            request = self._pending.popleft() if self._pending else None
            more = bool(self._pending)
        if more:  # one request per event, so cancel() and newer submits get a say in between
            self._wake.emit()
        if request is None:
            return
        if pipe is None:
            self.failed.emit(request.stamp, NO_GENERATOR_HINT)
            return
        try:
            if isinstance(request, Job):
                self._run_job(pipe, request)
            else:
                self._run(pipe, request)
        except JobError as exc:
            self.refused.emit(request.stamp, str(exc))
        except Exception as exc:  # a worker must never raise into Qt's event loop
            log.exception("request failed")
            what = "Rendering" if isinstance(request, RenderRequest) else "The task"
            self.failed.emit(request.stamp, f"{what} failed: {exc}")

    def _run_job(self, pipe: Pipeline, job: Job) -> None:
        self.started.emit(job.stamp)
        with self._lock:
            project = self._project

        def progress(done: int, total: int) -> bool:
            self.job_progress.emit(job.stamp, done, total)
            return not self.is_cancelled(job.stamp)

        result = job.run(pipe, project, progress)
        self._forward_notices(pipe)
        if self.is_cancelled(job.stamp):
            self.cancelled.emit(job.stamp)
            return
        self.job_done.emit(job.stamp, result)

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
        self.ready.emit(
            PipelineInfo(
                provider=pipe.provider,
                generators=generators,
                default=default,
                sounds=_sounds(pipe),
                layouts=pipe.registry.layout_prior_for(default) is not None,
                cpu_reason=pipe.engine.cpu_reason,
            )
        )
        self._forward_notices(pipe)
        return pipe

    def _run(self, pipe: Pipeline, request: RenderRequest) -> None:
        self.started.emit(request.stamp)
        with self._lock:
            project = self._project
        if project is None:
            raise RuntimeError("no project is open")
        recipes = list(request.recipes) or pipe.recipes_for(
            request.prompt,
            seed=request.seed,
            count=request.count,
            model=request.model,
            size=request.size,
            attributes=dict(request.attributes),
        )
        if request.sketch is not None:
            recipes = [r.replace(sketch=request.sketch) for r in recipes]
        elif request.imagine_layout:  # recipes with a sketch or an explicit embedding are left as they are
            recipes = pipe.imagine_layouts(recipes, lambda png: project.assets.put(png, "png"))
        if request.pin_sound:
            recipes = [pipe.pin_sound_encoder(r) for r in recipes]
        if request.live_sound is not None:
            recipes = [
                pipe.live_sound(r, request.live_sound, request.strength, request.sound_hold) for r in recipes
            ]
        assets: AssetSource = project.assets
        if request.memory_assets:
            memory = MemoryAssets()
            for _sha, data in request.memory_assets:
                memory.put(data)
            assets = LayeredAssets(memory, project.assets)
        images = pipe.render(recipes, assets=assets, preview=not request.commit)
        self._forward_notices(pipe)
        if not request.commit:
            if self.is_cancelled(request.stamp):
                self.cancelled.emit(request.stamp)
                return
            self.stats.emit(pipe.provider, recipes[0].model, float(pipe.last_ms_per_image))
            self.preview.emit(request.stamp, images[0], recipes[0])
            return
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


def _sounds(pipe: Pipeline) -> list[tuple[str, str]]:
    """What the installed sound encoder recognises, for the welcome panel (none: empty)."""
    try:
        labels = pipe.audio_encoder_for(pipe.default_generator()).manifest.get("listen_labels") or []
    except Exception:  # no sound encoder is a normal install, not an error
        return []
    return [(str(x["display"]), ", ".join(dict(x.get("attributes", {})).values())) for x in labels]


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
