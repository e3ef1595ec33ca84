"""Prompt → unit vector in the shared embedding space, through onnxruntime + tokenizers (no torch).

The ONNX graph already does mean pooling and L2 normalisation, so this module only tokenises,
feeds the session and caches per-text vectors (prompts repeat constantly while painting).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

log = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "embedding"


class TextEncoderError(ValueError):
    """The text encoder's files or inputs are unusable; the message says which and why."""


class TextEncoder:
    """Prompt → unit vector in the shared embedding space, through onnxruntime + tokenizers.

    Each distinct text runs through the model on its own (no padding), so a prompt's vector never
    depends on which other prompts shared its batch: with a dynamically quantised model the
    activation scales are computed per call, and batch-mates would otherwise nudge the result,
    breaking bit-exact re-renders. An LRU cache makes repeats free.
    """

    def __init__(
        self, session: Any, tokenizer_path: Path, max_tokens: int = 128, cache_size: int = 4096
    ) -> None:
        names = {i.name for i in session.get_inputs()}
        missing = [n for n in INPUT_NAMES if n not in names]
        if missing:
            raise TextEncoderError(f"text encoder model lacks inputs {missing} (has {sorted(names)})")
        outputs = session.get_outputs()
        if not any(o.name == OUTPUT_NAME for o in outputs):
            raise TextEncoderError(f"text encoder model has no output {OUTPUT_NAME!r}")
        if max_tokens < 2:
            raise TextEncoderError("max_tokens must be at least 2 ([CLS] and [SEP])")
        self._session = session
        self.max_tokens = int(max_tokens)
        self._tokenizer = _load_tokenizer(Path(tokenizer_path), self.max_tokens)
        shape = next(o.shape for o in outputs if o.name == OUTPUT_NAME)
        self.dim = int(shape[-1]) if isinstance(shape[-1], int) else self._probe_dim()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._lock = threading.Lock()

    @classmethod
    def from_files(
        cls, onnx_path: Path, tokenizer_path: Path, max_tokens: int = 128, threads: int | None = None
    ) -> TextEncoder:
        """A CPU session for tools and tests (the app's Engine picks providers itself); `threads`
        caps onnxruntime's threads (a trainer keeps its cores, a timing is single-threaded)."""
        import onnxruntime as ort

        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise TextEncoderError(f"text encoder model not found: {onnx_path}")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise TextEncoderError(f"cannot load text encoder {onnx_path.name}: {exc}") from exc
        return cls(session, tokenizer_path, max_tokens=max_tokens)

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 [N, dim], unit norm; texts longer than max_tokens are truncated."""
        if isinstance(texts, str) or not isinstance(texts, list | tuple):
            raise TypeError("TextEncoder.encode takes a list of strings, e.g. encode([prompt])")
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"TextEncoder.encode takes strings only, got {', '.join(sorted(set(bad)))}")
        with self._lock:
            vectors = {t: self._cache[t] for t in texts if t in self._cache}
            for text in vectors:
                self._cache.move_to_end(text)
        misses = list(dict.fromkeys(t for t in texts if t not in vectors))
        if misses:
            for text, encoding in zip(
                misses, self._tokenizer.encode_batch([_valid_utf8(t) for t in misses]), strict=True
            ):
                vectors[text] = self._run(encoding.ids)
            self._remember(misses, vectors)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([vectors[t] for t in texts]).astype(np.float32, copy=False)

    def _run(self, ids: list[int]) -> np.ndarray:
        input_ids = np.asarray([ids], dtype=np.int64)
        feeds = {
            "input_ids": input_ids,
            "attention_mask": np.ones_like(input_ids),
            "token_type_ids": np.zeros_like(input_ids),
        }
        (embedding,) = self._session.run([OUTPUT_NAME], feeds)
        vector = np.asarray(embedding[0], dtype=np.float32)
        vector.setflags(write=False)
        return vector

    def _remember(self, texts: list[str], vectors: dict[str, np.ndarray]) -> None:
        if not self._cache_size:
            return
        with self._lock:
            for text in texts:
                self._cache[text] = vectors[text]
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _probe_dim(self) -> int:
        return int(self._run(self._tokenizer.encode("").ids).shape[-1])


def _valid_utf8(text: str) -> str:
    """Lone surrogates (e.g. from a broken paste) are replaced; the tokenizer would refuse them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _load_tokenizer(path: Path, max_tokens: int) -> Tokenizer:
    if not path.is_file():
        raise TextEncoderError(f"tokenizer file not found: {path}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
        raise TextEncoderError(f"cannot read tokenizer {path.name}: {exc}") from exc
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer
