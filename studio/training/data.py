"""Training data: a live stream of procedural scenes, or a user's folder of captioned images.

Both hand the trainer batches of (image, one-hot labels, caption embedding, the attributes the
caption names: the targets of the discriminator's attribute head). The stream renders
in a background thread into a ring buffer, so the trainer never waits on the renderer and
every sample is reused only a few times.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from studio.world.captions import SEASONS, TIMES, WEATHERS, attributes_from_text
from studio.world.classes import NUM_CLASSES
from studio.world.scene import render_scenes

log = logging.getLogger(__name__)
Embedder = Callable[[list[str]], np.ndarray]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
ATTRIBUTE_GROUPS = {"time": TIMES, "weather": WEATHERS, "season": SEASONS}


def attribute_targets(captions: list[str]) -> np.ndarray:
    """[N, groups] class index per attribute group the caption *names*, -1 where it names none:
    a caption that does not say the weather asks for no weather, so it must not be scored on one."""
    out = np.full((len(captions), len(ATTRIBUTE_GROUPS)), -1, np.int64)
    for i, caption in enumerate(captions):
        found = attributes_from_text(caption)
        for j, (group, values) in enumerate(ATTRIBUTE_GROUPS.items()):
            if found[group] is not None:
                out[i, j] = values.index(found[group])
    return out


def scene_attribute_indices(attributes: list[dict]) -> np.ndarray:
    """[N, groups] class index of every scene's true attributes (the renderer knows them all)."""
    return np.array(
        [[values.index(a[group]) for group, values in ATTRIBUTE_GROUPS.items()] for a in attributes], np.int64
    ).reshape(len(attributes), len(ATTRIBUTE_GROUPS))


def to_batch(
    images: np.ndarray,
    labels: np.ndarray,
    text: np.ndarray,
    attrs: np.ndarray,
    truth: np.ndarray | None = None,
    plain: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """uint8 NHWC images, uint8 NHW labels, float text, int attribute targets (what the caption
    names) and the scenes' true attributes (-1 where unknown, e.g. a user's folder: then the
    caption's) → training tensors."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(labels).long(), NUM_CLASSES)
    return {
        "image": x,
        "labels": onehot.permute(0, 3, 1, 2).float(),
        "text": torch.from_numpy(text),
        "attrs": torch.from_numpy(attrs),
        "truth": torch.from_numpy(attrs if truth is None else truth),
        "plain": torch.from_numpy(text if plain is None else plain),
    }


def _produce(resolution: int, seed: int, chunk: int, plain: bool, out: mp.Queue, stop: mp.Event) -> None:
    """Producer process: render and embed chunks forever (a process, so the GIL stays free);
    `plain`: also embed the captions without their attribute words (else the text stands in)."""
    from studio.inference.sound_words import without_attributes
    from studio.training.run import shipped_embedder

    embed = shipped_embedder(threads=1)
    parent = os.getppid()  # a trainer killed by a signal cannot stop us: end when it is gone
    index = 0
    while not stop.is_set() and os.getppid() == parent:
        batch = render_scenes(chunk, seed=seed * 1_000_003 + index, size=resolution)
        text = embed(batch.captions)
        item = (
            batch.images,
            batch.labels,
            text,
            attribute_targets(batch.captions),
            scene_attribute_indices(batch.attributes),
            embed([without_attributes(c) for c in batch.captions]) if plain else text,
        )
        while not stop.is_set() and os.getppid() == parent:
            try:
                out.put(item, timeout=0.5)
                break
            except queue.Full:
                continue
        index += 1


class WorldStream:
    """Fresh scenes from studio.world, rendered by a producer process into a ring buffer.

    Once the ring is full, chunks are taken in only as fast as samples are used (`reuse`
    draws per sample on average); the bounded queue then pauses the producer. `plain`: batches also
    carry the captions' embeddings without their attribute words (config text_drop).
    """

    def __init__(
        self,
        resolution: int,
        seed: int,
        capacity: int = 4096,
        chunk: int = 32,
        reuse: int = 4,
        plain: bool = False,
    ):
        self.resolution, self.chunk, self.reuse = resolution, chunk, reuse
        self.images = np.zeros((capacity, resolution, resolution, 3), np.uint8)
        self.labels = np.zeros((capacity, resolution, resolution), np.uint8)
        self.text = np.zeros((capacity, 384), np.float32)
        self.attrs = np.full((capacity, len(ATTRIBUTE_GROUPS)), -1, np.int64)
        self.truth = np.full((capacity, len(ATTRIBUTE_GROUPS)), -1, np.int64)
        self.plain = np.zeros((capacity, 384), np.float32)  # the caption without its attribute words
        self.filled = self.produced = self.consumed = 0
        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue(maxsize=2)
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_produce, args=(resolution, seed, chunk, plain, self._queue, self._stop), daemon=True
        )
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._feed, name="world-feed", daemon=True)

    def start(self, min_fill: int = 256) -> WorldStream:
        self._process.start()
        self._thread.start()
        with self._ready:
            self._ready.wait_for(
                lambda: self.filled >= min(min_fill, len(self.images)) or self._stop.is_set()
            )
        if self.filled == 0:
            raise RuntimeError("the world renderer stopped before producing data")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()

    def _wants_more(self) -> bool:
        return (
            self._stop.is_set()
            or self.filled < len(self.images)
            or self.produced * self.reuse < self.consumed
        )

    def _feed(self) -> None:
        while not self._stop.is_set():
            with self._ready:
                if not self._ready.wait_for(self._wants_more, timeout=1.0):
                    continue
            try:
                images, labels, text, attrs, truth, plain = self._queue.get(timeout=1.0)
            except queue.Empty:
                if not self._process.is_alive() and not self._stop.is_set():
                    log.error("world producer process died")  # stop training rather than hang it
                    self._stop.set()
                    with self._ready:
                        self._ready.notify_all()  # wakes start(), which then raises
                continue
            with self._ready:
                slots = (self.produced + np.arange(len(images))) % len(self.images)
                self.images[slots], self.labels[slots] = images, labels
                self.text[slots], self.attrs[slots], self.truth[slots] = text, attrs, truth
                self.plain[slots] = plain
                self.produced += len(images)
                self.filled = min(len(self.images), self.filled + len(images))
                self._ready.notify_all()

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        if self._stop.is_set() and not self._process.is_alive():
            raise RuntimeError("the world renderer stopped")
        with self._ready:
            idx = rng.integers(0, self.filled, batch)
            self.consumed += batch
            self._ready.notify_all()
            return to_batch(
                self.images[idx],
                self.labels[idx],
                self.text[idx],
                self.attrs[idx],
                self.truth[idx],
                self.plain[idx],
            )


class FolderData:
    """A user's images; captions from sidecar .txt files or the file names. No label maps."""

    def __init__(self, folder: Path, resolution: int, embed: Embedder):
        paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {folder}")
        self.images = np.stack([load_square(p, resolution) for p in paths])
        self.labels = np.zeros(self.images.shape[:3], np.uint8)  # all "unknown": text-only
        self.captions = [caption_for(p) for p in paths]
        self.text = embed(self.captions).astype(np.float32)
        self.attrs = attribute_targets(self.captions)
        self.produced = len(paths)
        log.info("loaded %d images from %s", len(paths), folder)

    def start(self) -> FolderData:
        return self

    def stop(self) -> None:
        pass

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, len(self.images), batch)
        return to_batch(self.images[idx], self.labels[idx], self.text[idx], self.attrs[idx])


def caption_for(path: Path) -> str:
    """Sidecar NAME.txt wins; otherwise the file name with separators turned into spaces."""
    sidecar = path.with_suffix(".txt")
    if sidecar.exists():
        return sidecar.read_text(encoding="utf-8", errors="replace").strip()
    return path.stem.replace("_", " ").replace("-", " ").strip()


def load_square(path: Path, size: int) -> np.ndarray:
    """Centre-crop to a square and resize, RGB uint8."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
        return np.asarray(im, dtype=np.uint8)
