"""Words the attribute lexicon does not list but are built from one it does.

Artists write "thundery", "fog-draped", "snowier" or "sandstorm"; the lexicon lists "thunder",
"fog", "snowy" and "storm". Listing every derivation by hand never ends, so the reader falls back
to word families: a word that is a lexicon word (or its root) plus a common suffix, or a compound
with one at either end, names what that word names. It is a fallback only: a group an exact
phrase already named keeps that value, and a negated word ("cloudless", "rain-free") names nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from studio.inference.attribute_lexicon import LEXICON

Named = tuple[tuple[str, str], ...]  # the (group, value) pairs a word names

SUFFIXES = ("", "y", "ly", "ier", "iest", "iness", "ing", "ed", "er", "ous", "uous", "ish")
ROOT_ENDINGS = ("ing", "ed", "y")  # "pouring" → pour, "misty" → mist: roots that take suffixes
NEGATIONS = ("less", "free")  # "cloudless", "rain-free": the opposite of their root
MIN_ROOT = 4  # "ice" in "iceberg", "wet" in "wetland", "sun" in "sunflower" mean nothing
MIN_COMPOUND_PART = 4  # "ter" + "rain" is terrain, "down" + "pour" is a downpour
# Lexicon words whose families are mostly other words and would misread ordinary prompts:
# "falls" (waterfalls, night falls), "heather", "fairy", "clearing" (a glade), "powdery" sand.
NOT_ROOTS = frozenset(
    {
        "fall",
        "heat",
        "fair",
        "bright",
        "clear",
        "cold",
        "dull",
        "grey",
        "gray",
        "powder",
        "pleasant",
        "fresh",
        "veiled",
        "harvest",
        "polar",
        "violent",
        "raging",
        "damp",
        "radiant",
        "brilliant",
    }
)
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


@lru_cache(maxsize=1)
def _roots() -> dict[str, Named]:
    """root → what it names, from the lexicon's one-word phrases; a root two values of one group
    would claim is dropped rather than guessed."""
    claims: dict[str, set[tuple[str, str]]] = {}
    for group, values in LEXICON.items():
        for value, phrases in values.items():
            for phrase in phrases:
                if not phrase.isalpha() or phrase in NOT_ROOTS:
                    continue
                roots = {phrase} | {_drop_e(phrase)}
                for ending in ROOT_ENDINGS:
                    if phrase.endswith(ending) and len(phrase) - len(ending) >= MIN_ROOT:
                        roots.add(phrase[: -len(ending)])
                for root in roots:
                    if root and root not in NOT_ROOTS:
                        claims.setdefault(root, set()).add((group, value))
    out = {}
    for root, named in sorted(claims.items(), key=lambda item: -len(item[0])):  # longest root first
        groups = [g for g, _ in named]
        if len(groups) == len(set(groups)):
            out[root] = tuple(sorted(named))
    return out


def _drop_e(word: str) -> str:
    """ "haze" → "haz" (hazy), "drizzle" → "drizzl" (drizzly); only used with a suffix."""
    return word[:-1] if word.endswith("e") and len(word) >= MIN_ROOT else ""


def family(word: str) -> tuple[Named, str] | None:
    """What a word outside the lexicon names through its family, and the root it came from."""
    parts = word.split("-")
    if any(p in NEGATIONS or p.endswith(NEGATIONS) for p in parts):
        return None
    for candidate in [word.replace("-", "")] + [p for p in parts if len(parts) > 1]:
        hit = _derived(candidate) or _compound(candidate)
        if hit:
            return hit
    return None


def _derived(word: str) -> tuple[Named, str] | None:
    roots = _roots()
    for suffix in SUFFIXES:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)] if suffix else word
            if stem in roots and (len(stem) >= MIN_ROOT or suffix in ("y", "ing", "ed")):
                return roots[stem], stem
    return None


@lru_cache(maxsize=1)
def _compound_roots() -> tuple[tuple[str, Named], ...]:
    """The roots long enough to be one part of a compound, longest first."""
    return tuple((root, named) for root, named in _roots().items() if len(root) >= MIN_ROOT)


def _compound(word: str) -> tuple[Named, str] | None:
    """A lexicon root at the start ("snowbound", "stormclouds": the first part carries the
    weather), else at the end ("downpour")."""
    for at_start in (True, False):
        for root, named in _compound_roots():
            if len(word) - len(root) < MIN_COMPOUND_PART:
                continue
            if word.startswith(root) if at_start else word.endswith(root):
                return named, root
    return None


def family_hits(text: str) -> list[tuple[int, Named, str]]:
    """(position, what it names, the word) for every word of `text` (lower case, with
    the lexicon's matches already blanked out) that a family names."""
    hits = []
    for match in _WORD.finditer(text):
        found = family(match.group())
        if found:
            hits.append((match.start(), found[0], match.group()))
    return hits
