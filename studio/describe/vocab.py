"""Caption words: the tokenizer and the captioner's vocabulary (the world's training wording).

The vocabulary is enumerated from the caption tables' *training* phrasings, so a captioner can
only say what it was taught; the held-out phrasings (`EVAL_ONLY_PHRASES`) stay out unless a
training phrasing shares a word with them. Token ids 0-3 are `<pad>`, `<bos>`, `<eos>`, `<unk>`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from studio.inference.manifest import CAPTION_SPECIALS

PAD, BOS, EOS, UNK = range(len(CAPTION_SPECIALS))
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[,:.;!?]")
_PUNCTUATION = frozenset(",:.;!?")


def tokenize(text: str) -> list[str]:
    """Lower-case words (hyphenated ones whole) and punctuation marks as their own tokens."""
    return _TOKEN.findall(str(text).lower())


def detokenize(words: list[str]) -> str:
    """Words back to a sentence: punctuation sticks to the word before it."""
    out = ""
    for word in words:
        out += word if (word in _PUNCTUATION or not out) else " " + word
    return out


@lru_cache(maxsize=1)
def training_words() -> tuple[str, ...]:
    """Every word a training caption can use (sorted), from the caption tables' train phrasings."""
    from studio.world import captions as c

    phrases: list[str] = []
    for template in c.TRAIN_TEMPLATES:
        phrases.append(re.sub(r"\{\w+\}", " ", template))
    for table in (c.TIME_PP, c.TIME_NOUN, c.WEATHER_ADJ, c.WEATHER_PP, c.SEASON_PP, c.SEASON_ADJ):
        for train, _held_out in table.values():
            phrases.extend(train)
    for train, _held_out in c.FEATURE_NOUN.values():
        phrases.extend(noun for noun, _plural in train)
    for relations in (c.REL_BELOW_PEAKS, c.REL_ABOVE, c.REL_WITH):
        phrases.extend(relations[0])
    phrases.extend(p for group in c._WEATHER_TIME_TRAIN.values() for p in group)
    phrases.extend(c._DAY_ONLY_ADJ)
    phrases.extend(("starry", "a", "an", "the", "and"))
    return tuple(sorted({w for p in phrases for w in tokenize(p)}))


def training_vocabulary() -> tuple[str, ...]:
    """The specials, then the training words: what `studio train` gives a new captioner."""
    return CAPTION_SPECIALS + training_words()


class Vocabulary:
    """Words ↔ ids for one captioner (its manifest's `vocabulary`)."""

    def __init__(self, words: tuple[str, ...] | list[str]) -> None:
        words = tuple(words)
        if words[: len(CAPTION_SPECIALS)] != CAPTION_SPECIALS:
            raise ValueError(f"a vocabulary starts with {list(CAPTION_SPECIALS)}")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_tokens: int) -> list[int]:
        """`<bos>` w1 … wn `<eos>` (unknown words → `<unk>`), cut to max_tokens words."""
        ids = [self.index.get(w, UNK) for w in tokenize(text)][:max_tokens]
        return [BOS, *ids, EOS]

    def decode(self, ids: list[int]) -> str:
        """Ids → sentence; stops at `<eos>` and leaves the other specials out."""
        words = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(CAPTION_SPECIALS):
                words.append(self.words[i])
        return detokenize(words)
