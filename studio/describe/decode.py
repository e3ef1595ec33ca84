"""Greedy and beam-search decoding in numpy around one decoder step (onnxruntime or anything else).

`step(tokens [N] int64, hidden [N,H], context [N,C]) -> (logprobs [N,V], next_hidden [N,H])` is
one word of the decoder for N rows at once; the loops here own the search. A caption's score is
the sum of its words' log-probabilities, `<eos>` included (no length penalty: the world's
captions always end after they name the season, so the model's `<eos>` is confident). Beam
search keeps the greedy caption as a candidate, so it never returns a lower score than greedy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from studio.describe.vocab import BOS, EOS, PAD, UNK

Step = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
NEVER = (PAD, BOS, UNK)  # tokens a caption never contains


@dataclass(frozen=True)
class Hypothesis:
    """One decoded caption: its word ids (no `<bos>`/`<eos>`), score, and whether the model ended
    it (False: it was cut at max_tokens words, the `<eos>` forced and scored)."""

    words: tuple[int, ...]
    logprob: float
    finished: bool


def _allowed(logprobs: np.ndarray, position: int, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """The scores a search may use at `position`, and per row whether `<eos>` is forced there."""
    out = np.array(logprobs, np.float64, copy=True)
    out[:, list(NEVER)] = -np.inf
    if position == 0:
        out[:, EOS] = -np.inf  # at least one word
    forced = np.zeros(len(out), bool)
    if position == max_tokens:  # the last slot can only close the caption
        forced = out.argmax(1) != EOS
        keep = out[:, EOS].copy()
        out[:] = -np.inf
        out[:, EOS] = keep
    return out, forced


def greedy(step: Step, hidden: np.ndarray, context: np.ndarray, max_tokens: int) -> list[Hypothesis]:
    """The most likely next word at every step, for each of the N rows; at most max_tokens words."""
    n = hidden.shape[0]
    tokens = np.full(n, BOS, np.int64)
    out: list[list[int]] = [[] for _ in range(n)]
    score = np.zeros(n)
    alive = np.ones(n, bool)
    cut = np.zeros(n, bool)
    for position in range(max_tokens + 1):
        logprobs, hidden = step(tokens, hidden, context)
        logprobs, forced = _allowed(logprobs, position, max_tokens)
        tokens = logprobs.argmax(1).astype(np.int64)
        for i in np.flatnonzero(alive):
            score[i] += logprobs[i, tokens[i]]
            if tokens[i] == EOS:
                alive[i], cut[i] = False, forced[i]
            else:
                out[i].append(int(tokens[i]))
        if not alive.any():
            break
    return [Hypothesis(tuple(t), float(s), not c) for t, s, c in zip(out, score, cut, strict=True)]


def beam_search(
    step: Step, hidden: np.ndarray, context: np.ndarray, beam: int, max_tokens: int
) -> list[Hypothesis]:
    """The best `beam` captions for ONE image (hidden [1,H], context [1,C]), best first.

    Stops once no open hypothesis can enter the best `beam` finished ones (scores only fall as
    words are added) or at max_tokens words, where the last step may only close a caption."""
    if hidden.shape[0] != 1:
        raise ValueError(f"beam_search decodes one image at a time, not {hidden.shape[0]}")
    if beam < 1:
        raise ValueError(f"beam must be at least 1, not {beam}")
    best_greedy = greedy(step, hidden, context, max_tokens)[0]
    prefixes: list[tuple[int, ...]] = [()]
    scores = np.zeros(1)
    hiddens = hidden
    finished: list[Hypothesis] = [best_greedy]
    for position in range(max_tokens + 1):
        last = np.array([p[-1] if p else BOS for p in prefixes], np.int64)
        ctx = np.repeat(context, len(prefixes), axis=0)
        logprobs, next_hidden = step(last, hiddens, ctx)
        logprobs, forced = _allowed(logprobs, position, max_tokens)
        total = scores[:, None] + logprobs
        flat = np.argsort(-total, axis=None, kind="stable")[: 2 * beam]
        rows, words = np.unravel_index(flat, total.shape)
        keep_rows, keep_words, keep_scores = [], [], []
        for row, word in zip(rows.tolist(), words.tolist(), strict=True):
            value = float(total[row, word])
            if not np.isfinite(value):
                continue
            if word == EOS:
                finished.append(Hypothesis(prefixes[row], value, not forced[row]))
            elif len(keep_rows) < beam:
                keep_rows.append(row)
                keep_words.append(word)
                keep_scores.append(value)
        done = sorted((h.logprob for h in finished), reverse=True)
        if not keep_rows or (len(done) >= beam and done[beam - 1] >= max(keep_scores)):
            break  # no open caption can enter the best `beam` any more
        prefixes = [(*prefixes[r], w) for r, w in zip(keep_rows, keep_words, strict=True)]
        scores = np.array(keep_scores)
        hiddens = next_hidden[keep_rows]
    unique: dict[tuple[int, ...], Hypothesis] = {}
    for h in sorted(finished, key=lambda h: -h.logprob):
        unique.setdefault(h.words, h)
    return list(unique.values())[:beam]
