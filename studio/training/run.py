"""`studio train`: load a config, wire the shipped text encoder in as the caption embedder, train."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from studio.training.config import TrainConfig
from studio.training.loop import train

log = logging.getLogger(__name__)


def shipped_embedder(threads: int = 1):
    """Captions are embedded by the same ONNX text encoder the app uses, so train = serve."""
    from studio.inference.text_encoder import TextEncoder
    from studio.paths import shipped_models_dir

    folder = shipped_models_dir()
    # few threads: leave the cores to the trainer
    return TextEncoder.from_files(
        folder / "text_minilm.onnx", folder / "text_minilm.tokenizer.json", threads=threads
    ).encode


def stop_on_terminate() -> Callable[[], bool]:
    """`kill PID` (SIGTERM) ends a run between steps, so its `finally` stops the world producer
    process: killed outright, the producer outlived the trainer and kept rendering on a core.
    Resume starts from the last snapshot, as after any stop."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop.is_set


def run_training(
    cfg: TrainConfig,
    out_dir: Path | None = None,
    data: Path | None = None,
    resume: bool = False,
    steps: int | None = None,
    progress=None,
    init: Path | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict:
    if data is not None:
        cfg.data = str(data)
    if init is not None:
        cfg.init = str(init)
    if steps is not None:
        cfg.steps = steps
    out = out_dir or Path("runs") / cfg.name
    log.info("training %s (%s) into %s", cfg.name, cfg.kind, out)
    return train(cfg, out, shipped_embedder(), resume=resume, progress=progress, should_stop=should_stop)
