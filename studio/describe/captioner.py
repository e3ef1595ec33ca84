"""Captioner runtime: an exported captioner (encoder + decoder step ONNX) driven by numpy decoding.

The encoder turns pictures (uint8 HxWx3, any size, area-resized to the model's resolution like the
image encoder's input) into the decoder's first state and an image vector; `decode.greedy` or
`decode.beam_search` then call the decoder step once per word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.describe.decode import Hypothesis, beam_search, greedy
from studio.describe.vocab import Vocabulary
from studio.inference.image_encoder import to_input
from studio.inference.manifest import ModelError, ModelInfo

MAX_BEAM = 16
BATCH = 64


@dataclass(frozen=True)
class Caption:
    text: str
    logprob: float  # sum of the words' log-probabilities, <eos> included
    finished: bool  # False: cut at max_tokens words


class Captioner:
    """Wraps a captioner's two graphs. `runner` is an Engine (the app's provider choice, with its
    CPU fallback) or a mapping {path: onnxruntime session} for tools and tests."""

    def __init__(self, runner, info: ModelInfo) -> None:
        if info.kind != "captioner" or info.decoder_path is None:
            raise ModelError(f"{info.name} is a {info.kind}, not a captioner")
        self.info = info
        self.vocab = Vocabulary(info.vocabulary)
        self.resolution = int(info.resolution or 64)
        self.max_tokens = int(info.max_tokens or 24)
        if isinstance(runner, Mapping):
            sessions = {Path(p): s for p, s in runner.items()}

            def run(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
                session = sessions[path]
                names = [o.name for o in session.get_outputs()]
                return dict(zip(names, session.run(names, feeds), strict=True))

            self._run = run
        else:
            self._run = runner.run

    def encode(self, images: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hidden [N,H], context [N,C]) for uint8 HxWx3 pictures of any size."""
        hidden, context = [], []
        for start in range(0, len(images), BATCH):
            out = self._run(
                self.info.path, {"image": to_input(images[start : start + BATCH], self.resolution)}
            )
            hidden.append(out["hidden"])
            context.append(out["context"])
        if not hidden:
            raise ValueError("no images to describe")
        return np.concatenate(hidden).astype(np.float32), np.concatenate(context).astype(np.float32)

    def step(
        self, tokens: np.ndarray, hidden: np.ndarray, context: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One word for N rows: (log-probabilities [N,V], next state [N,H])."""
        feeds = {
            "token": np.ascontiguousarray(tokens, np.int64),
            "hidden": np.ascontiguousarray(hidden, np.float32),
            "context": np.ascontiguousarray(context, np.float32),
        }
        out = self._run(self.info.decoder_path, feeds)
        return out["logprobs"], out["next_hidden"]

    def hypotheses(self, images: Sequence[np.ndarray] | np.ndarray, beam: int = 1) -> list[list[Hypothesis]]:
        """Per picture, its best captions as word ids (one for beam 1, up to `beam` otherwise)."""
        if not isinstance(beam, int) or not 1 <= beam <= MAX_BEAM:
            raise ValueError(f"beam must be a whole number from 1 to {MAX_BEAM}, not {beam!r}")
        hidden, context = self.encode(images)
        if beam == 1:
            return [[h] for h in greedy(self.step, hidden, context, self.max_tokens)]
        return [
            beam_search(self.step, hidden[i : i + 1], context[i : i + 1], beam, self.max_tokens)
            for i in range(len(hidden))
        ]

    def describe(self, images: Sequence[np.ndarray] | np.ndarray, beam: int = 1) -> list[Caption]:
        """The best caption of each picture."""
        return [
            Caption(self.vocab.decode(list(best[0].words)), best[0].logprob, best[0].finished)
            for best in self.hypotheses(images, beam)
        ]

    def captions(self, images: Sequence[np.ndarray] | np.ndarray, beam: int = 1) -> list[str]:
        return [c.text for c in self.describe(images, beam)]
