"""What changed between two recipes, in words a history row or a compare table can show.

A history tree is easier to read when a child says what it changed ("seed 3 → 7", "sketch")
than when it repeats its whole recipe; the same changes fill the A/B compare table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from studio.inference.layout import LAYOUT_KEY
from studio.inference.sound_pin import SOUND_ENCODER_KEY
from studio.recipe import Recipe

SHORT_TEXT = 32
LATENT_JITTER = 0.5  # relative distance below which a new latent reads as a nudge of the old one

# extra keys that hold machine values: say that they changed, never dump them
_EXTRA_WORDS = {"text_embedding": "embedding", "base_image": "base image"}


@dataclass(frozen=True)
class Change:
    """One field that differs; `before`/`after` are the raw values, `summary` is for people."""

    field: str
    before: Any
    after: Any
    summary: str


def short_text(text: str, limit: int = SHORT_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.3g}"


def format_value(value: Any) -> str:
    """A short display of one recipe value (asset ids and long lists are abbreviated)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list | tuple):
        return (
            f"{len(value)} numbers"
            if all(isinstance(v, int | float) for v in value)
            else f"{len(value)} items"
        )
    if isinstance(value, dict):
        return f"{len(value)} keys"
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):  # a sha256 asset id
        return text[:8]
    return short_text(text)


def _asset(field: str, before: str | None, after: str | None, word: str) -> Change:
    if before is None:
        summary = word
    elif after is None:
        summary = f"{word} removed"
    else:
        summary = f"{word} edited"
    return Change(field, before, after, summary)


def _layout(a: Recipe, b: Recipe) -> Change:
    """A sketch change that involves an imagined layout reads as a layout change."""
    before, after = a.extra.get(LAYOUT_KEY), b.extra.get(LAYOUT_KEY)
    if after is None:
        summary = "sketch painted" if b.sketch is not None else "layout removed"
    elif before is None:
        summary = "layout " + str(after).rpartition(" ")[2]
    else:
        summary = f"layout {str(before).rpartition(' ')[2]} → {str(after).rpartition(' ')[2]}"
    return Change("sketch", a.sketch, b.sketch, summary)


def _latent(before: tuple[float, ...] | None, after: tuple[float, ...] | None) -> Change:
    if before is None:
        summary = "custom latent"
    elif after is None:
        summary = "latent from seed"
    elif len(before) != len(after):
        summary = f"latent size {len(before)} → {len(after)}"
    else:
        distance = math.dist(before, after)
        scale = max(math.hypot(*before), 1e-12)
        word = "latent jitter" if distance / scale < LATENT_JITTER else "latent changed"
        summary = f"{word} (Δ {_number(distance)})"
    return Change("latent", before, after, summary)


def _extra(key: str, before: Any, after: Any) -> Change:
    field = f"extra.{key}"
    word = _EXTRA_WORDS.get(key)
    if word is None and all(v is None or isinstance(v, str | int | float | bool) for v in (before, after)):
        return Change(field, before, after, f"{key}: {format_value(before)} → {format_value(after)}")
    word = word or key
    if before is None:
        return Change(field, before, after, f"{word} set")
    if after is None:
        return Change(field, before, after, f"{word} removed")
    return Change(field, before, after, f"{word} changed")


def diff_recipes(a: Recipe, b: Recipe) -> list[Change]:
    """The changes that turn recipe `a` into recipe `b`, in recipe field order; [] when equal."""
    if not isinstance(a, Recipe) or not isinstance(b, Recipe):
        raise TypeError(f"diff_recipes compares two Recipes, not {type(a).__name__} and {type(b).__name__}")
    changes: list[Change] = []
    if (a.model, a.model_version) != (b.model, b.model_version):
        changes.append(
            Change(
                "model",
                f"{a.model} {a.model_version}",
                f"{b.model} {b.model_version}",
                f"model {a.model} {a.model_version} → {b.model} {b.model_version}",
            )
        )
    if a.prompt != b.prompt:
        before = f"'{short_text(a.prompt)}'" if a.prompt else "(anything)"
        after = f"'{short_text(b.prompt)}'" if b.prompt else "(anything)"
        changes.append(Change("prompt", a.prompt, b.prompt, f"prompt: {before} → {after}"))
    if a.seed != b.seed:
        changes.append(Change("seed", a.seed, b.seed, f"seed {a.seed} → {b.seed}"))
    if a.latent != b.latent:
        changes.append(_latent(a.latent, b.latent))
    if a.size != b.size:
        changes.append(Change("size", a.size, b.size, f"size {a.size} → {b.size}px"))
    imagined = LAYOUT_KEY in a.extra or LAYOUT_KEY in b.extra
    if a.sketch != b.sketch:
        changes.append(_layout(a, b) if imagined else _asset("sketch", a.sketch, b.sketch, "sketch"))
    if a.mask != b.mask:
        changes.append(_asset("mask", a.mask, b.mask, "mask"))
    if a.sound != b.sound:
        change = _asset("sound", a.sound, b.sound, "sound")
        if a.sound is None:  # a new sound is only meaningful with its strength: "sound 0.6"
            change = Change("sound", None, b.sound, f"sound {_number(b.strength)}")
        changes.append(change)
    if a.strength != b.strength:
        changes.append(
            Change(
                "strength", a.strength, b.strength, f"strength {_number(a.strength)} → {_number(b.strength)}"
            )
        )
    for key in sorted(set(a.extra) | set(b.extra)):
        before, after = a.extra.get(key), b.extra.get(key)
        if key == LAYOUT_KEY and a.sketch != b.sketch:
            continue  # already said by the sketch's change
        if key == SOUND_ENCODER_KEY and a.sound != b.sound:
            continue  # which encoder heard a new sound is part of that sound
        if before != after:
            changes.append(_extra(key, before, after))
    if a.version != b.version:
        changes.append(Change("version", a.version, b.version, f"recipe version {a.version} → {b.version}"))
    return changes


def change_label(changes: list[Change], limit: int = 3) -> str:
    """One line for a history row: the first `limit` summaries, then "+N more".

    A strength change that comes with a newly added sound is already in "sound 0.6", so it is
    folded into it.
    """
    fields = {c.field: c for c in changes}
    shown = [
        c.summary
        for c in changes
        if not (c.field == "strength" and "sound" in fields and fields["sound"].before is None)
    ]
    if not shown:
        return "same recipe"
    extra = len(shown) - limit
    return " · ".join(shown[:limit]) + (f" · +{extra} more" if extra > 0 else "")
