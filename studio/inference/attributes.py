"""Scene attributes (time of day, weather, season): read from a prompt, pinned by the artist,
fed to generators that have an `attributes` input.

The reader is a phrase lexicon (`attribute_lexicon`): explainable ("night ← moonlit"), exact,
and free of the evaluation captions' held-out words. A recipe stores the attributes it was
rendered with under `extra["attributes"]`, so a re-render is exact even if the reader changes.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from studio.inference.attribute_lexicon import LEXICON, SHIELDS
from studio.inference.word_families import family_hits

RECIPE_KEY = "attributes"
SOUND_KEY = "sound_attributes"  # what a live sound implies (group: value), moved by the strength
GROUPS: dict[str, tuple[str, ...]] = {group: tuple(values) for group, values in LEXICON.items()}


class AttributesError(ValueError):
    """Attributes a recipe or a user gave cannot be used: the message says which."""


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], tuple[tuple[str, str], ...], str]]:
    """(pattern, the (group, value) pairs it names, phrase), longest phrase first; a shield names
    none, and a phrase may name one value in each of several groups ("starry": night, clear)."""
    names: dict[str, list[tuple[str, str]]] = {p: [] for p in SHIELDS}
    for group, values in LEXICON.items():
        for value, phrases in values.items():
            for phrase in phrases:
                names.setdefault(phrase, []).append((group, value))
    ordered = sorted(names.items(), key=lambda item: -len(item[0]))
    return [(re.compile(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])"), tuple(n), p) for p, n in ordered]


def read_attributes(prompt: str, families: bool = True) -> dict[str, tuple[str, str] | None]:
    """Per group, (value, the phrase it was read from) for the first phrase the prompt uses, or
    None. Longer phrases win and a matched span is consumed, so its words count once; a group no
    phrase named may still be named by a word of a lexicon word's family ("thundery"), unless
    `families` is off (the wording a recipe renders with must not change when families grow)."""
    text = " ".join(str(prompt).lower().split())
    found: dict[str, list[tuple[int, str, str]]] = {g: [] for g in LEXICON}
    for pattern, named, phrase in _patterns():
        for match in pattern.finditer(text):
            for group, value in named:
                found[group].append((match.start(), value, phrase))
            text = text[: match.start()] + "#" * (match.end() - match.start()) + text[match.end() :]
    named_by_phrase = {g for g, hits in found.items() if hits}
    for position, named, word in family_hits(text) if families else ():  # "drizzly": a group no phrase named
        for group, value in named:
            if group not in named_by_phrase:
                found[group].append((position, value, word))
    return {g: (min(hits)[1], min(hits)[2]) if hits else None for g, hits in found.items()}


def attributes_for_prompt(prompt: str) -> dict[str, str | None]:
    """What the reader understood, as a recipe stores it: group → value or None (unknown)."""
    return {g: (hit[0] if hit else None) for g, hit in read_attributes(prompt).items()}


def checked(attrs: object, groups: dict[str, tuple[str, ...]] = GROUPS) -> dict[str, str | None]:
    """A recipe's or user's attributes, validated: unknown groups or values are refused by name."""
    if not isinstance(attrs, dict):
        raise AttributesError("attributes must be an object of group: value")
    out: dict[str, str | None] = {g: None for g in groups}
    for group, value in attrs.items():
        if group not in groups:
            raise AttributesError(f"unknown attribute group {group!r} (known: {', '.join(groups)})")
        if value is not None and value not in groups[group]:
            raise AttributesError(f"{group} must be one of {', '.join(groups[group])}, not {value!r}")
        out[group] = value
    return out


def within(groups: tuple[tuple[str, tuple[str, ...]], ...], attrs: dict) -> dict[str, str]:
    """The attributes (group: value) a generator with these `attribute_groups` can show."""
    known = dict(groups)
    return {g: v for g, v in attrs.items() if v in known.get(g, ())}


def attribute_vector(
    attrs: dict[str, str | None], groups: tuple[tuple[str, tuple[str, ...]], ...]
) -> np.ndarray:
    """The generator's `attributes` input for one picture: one-hot per group (manifest order),
    zeros where the value is unknown."""
    parts = []
    for group, values in groups:
        row = np.zeros(len(values), np.float32)
        value = attrs.get(group)
        if value in values:
            row[values.index(value)] = 1.0
        parts.append(row)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def describe(attrs: dict[str, str | None], prompt: str = "") -> str:
    """One line for the UI and CLI: "time night ← moonlit · weather ? · season winter (pinned)"."""
    read = read_attributes(prompt)
    parts = []
    for group in GROUPS:
        value = attrs.get(group)
        hit = read.get(group)
        if value is None:
            parts.append(f"{group} ?")
        elif hit and hit[0] == value:
            parts.append(f"{group} {value} ← {hit[1]}")
        else:
            parts.append(f"{group} {value} (pinned)")
    return " · ".join(parts)
