"""Caption metrics in numpy: corpus BLEU-4 (Papineni et al. 2002) and CIDEr-D (Vedantam et al. 2015).

Both follow the COCO caption evaluation code (`pycocoevalcap`): words are lower-cased and
punctuation dropped; BLEU clips each n-gram's count by its most frequent use in one reference and
takes the brevity penalty against the reference length closest to each candidate; CIDEr-D weighs
n-grams (n = 1..4) by TF-IDF over the evaluated set's references (document frequency = images
whose references hold the n-gram), clips the candidate's weights by the reference's, multiplies by
a Gaussian length penalty (sigma 6) and scales by 10. Like the reference code, the "length" in
that penalty counts the caption's bigrams, and one image alone scores 0 (its IDF is log 1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from studio.describe.vocab import tokenize

SIGMA = 6.0


def words(text: str) -> list[str]:
    """The caption's words as the metrics count them: lower case, no punctuation."""
    return [t for t in tokenize(text) if t[0].isalnum()]


def ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _check(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if not candidates:
        raise ValueError("no captions to score")
    if any(isinstance(refs, str) or len(refs) == 0 for refs in references):
        raise ValueError("every candidate needs a list of at least one reference caption")


def bleu(candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = 4) -> float:
    """Corpus BLEU-n in [0, 1]: clipped n-gram precisions pooled over the corpus, their geometric
    mean, times the brevity penalty exp(1 - r/c) when the candidates are shorter (r: closest
    reference lengths, c: candidate lengths). No smoothing: a corpus with no matching n-gram is 0."""
    _check(candidates, references)
    matched = np.zeros(n)
    total = np.zeros(n)
    cand_len = ref_len = 0
    for candidate, refs in zip(candidates, references, strict=True):
        cand = words(candidate)
        ref_tokens = [words(r) for r in refs]
        cand_len += len(cand)
        ref_len += min((abs(len(r) - len(cand)), len(r)) for r in ref_tokens)[1]
        for k in range(1, n + 1):
            counts = ngrams(cand, k)
            most: Counter[tuple[str, ...]] = Counter()
            for r in ref_tokens:
                most |= ngrams(r, k)  # | keeps the larger count: the clip
            matched[k - 1] += sum(min(c, most[g]) for g, c in counts.items())
            total[k - 1] += max(len(cand) - k + 1, 0)
    if cand_len == 0 or np.any(matched == 0):
        return 0.0
    log_precision = float(np.mean(np.log(matched / total)))
    brevity = 1.0 if cand_len > ref_len else math.exp(1.0 - ref_len / cand_len)
    return brevity * math.exp(log_precision)


def _vector(tokens: list[str], df: Counter, log_images: float, n: int) -> tuple[list[dict], np.ndarray, int]:
    """TF-IDF weights per n-gram order, their norms, and the bigram count (the reference's "length")."""
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
    for k in range(1, n + 1):
        for gram, tf in ngrams(tokens, k).items():
            vec[k - 1][gram] = tf * (log_images - math.log(max(1.0, df[gram])))
    norms = np.array([math.sqrt(sum(v * v for v in order.values())) for order in vec])
    return vec, norms, max(len(tokens) - 1, 0)


def cider_d_scores(
    candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = 4, sigma: float = SIGMA
) -> np.ndarray:
    """CIDEr-D of each candidate against its references (IDF from all the references given)."""
    _check(candidates, references)
    ref_tokens = [[words(r) for r in refs] for refs in references]
    df: Counter[tuple[str, ...]] = Counter()
    for refs in ref_tokens:
        df.update({g for r in refs for k in range(1, n + 1) for g in ngrams(r, k)})
    log_images = math.log(float(len(candidates)))
    out = np.zeros(len(candidates))
    for i, (candidate, refs) in enumerate(zip(candidates, ref_tokens, strict=True)):
        vec, norm, length = _vector(words(candidate), df, log_images, n)
        score = np.zeros(n)
        for ref in refs:
            rvec, rnorm, rlength = _vector(ref, df, log_images, n)
            penalty = math.exp(-((length - rlength) ** 2) / (2 * sigma**2))
            for k in range(n):
                value = sum(min(w, rvec[k].get(g, 0.0)) * rvec[k].get(g, 0.0) for g, w in vec[k].items())
                if norm[k] != 0 and rnorm[k] != 0:
                    value /= norm[k] * rnorm[k]
                score[k] += value * penalty
        out[i] = 10.0 * float(np.mean(score)) / len(refs)
    return out


def cider_d(candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = 4) -> float:
    """Corpus CIDEr-D: the mean of the per-candidate scores (0 … 10; COCO models reach ~1)."""
    return float(np.mean(cider_d_scores(candidates, references, n)))
