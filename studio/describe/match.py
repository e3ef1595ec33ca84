"""Match score: does a picture's caption name what its prompt asked for?

The app shows it next to each result, so it reads both texts with the app's own readers: time,
weather and season with the attribute reader (`studio.inference.attributes`), the scene's
features (lake, forest, snowy peaks, …) with the world's keyword parser. Every attribute and
feature the prompt names is one item: shown (1) or not (0); the score is their mean. A prompt
that names none of them is scored by how many of its content words the caption repeats; one with
no content words at all has no score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.describe.vocab import tokenize
from studio.inference.attributes import GROUPS, attributes_for_prompt
from studio.world.captions import attributes_from_text

STOP_WORDS = frozenset(
    "a an the of in on at by with near under over above below beneath and or during to from into "
    "is are it its this that painting picture view image photo scene".split()
)


def content_words(text: str) -> set[str]:
    """Words that carry meaning, plural 's' dropped ("mountains" = "mountain")."""
    out = set()
    for word in tokenize(text):
        if not word[0].isalnum() or word in STOP_WORDS:
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return out


@dataclass(frozen=True)
class Match:
    score: float | None  # 0..1; None: the prompt asks for nothing a caption could show
    groups: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # asked group → (asked, shown)
    features: dict[str, bool] = field(default_factory=dict)  # asked feature → shown
    shared_words: tuple[str, ...] = ()

    @property
    def items(self) -> int:
        return len(self.groups) + len(self.features)

    @property
    def hits(self) -> int:
        return sum(a == s for a, s in self.groups.values()) + sum(self.features.values())

    def badge(self) -> str:
        """Short enough for a row or a tile: "2/3" (items shown of asked), "67%" (shared words), "–"."""
        if self.items:
            return f"{self.hits}/{self.items}"
        return "–" if self.score is None else f"{self.score:.0%}"

    def summary(self) -> str:
        """One line: "time night ✓ · weather rainy ✗ (clear) · lake ✓ — 2/3"."""
        parts = []
        for group, (asked, shown) in self.groups.items():
            parts.append(f"{group} {asked} ✓" if asked == shown else f"{group} {asked} ✗ ({shown or '?'})")
        parts += [f"{feature} {'✓' if shown else '✗'}" for feature, shown in self.features.items()]
        if not parts:
            if self.score is None:
                return "nothing to check"
            return f"shared words: {', '.join(self.shared_words) or 'none'} ({self.score:.0%})"
        return " · ".join(parts) + f" — {self.hits}/{self.items}"

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "groups": {g: {"asked": a, "shown": s} for g, (a, s) in self.groups.items()},
            "features": dict(self.features),
            "shared_words": list(self.shared_words),
        }


def match_score(prompt: str, caption: str) -> Match:
    """How well `caption` (what a picture shows) names what `prompt` asked for."""
    asked, shown = attributes_for_prompt(prompt), attributes_for_prompt(caption)
    groups = {g: (asked[g], shown[g]) for g in GROUPS if asked[g] is not None}
    asked_features = attributes_from_text(prompt)["features"] or []
    shown_features = set(attributes_from_text(caption)["features"] or [])
    features = {f: f in shown_features for f in asked_features}
    prompt_words, caption_words = content_words(prompt), content_words(caption)
    shared = tuple(sorted(prompt_words & caption_words))
    items = [float(a == s) for a, s in groups.values()] + [float(v) for v in features.values()]
    if items:
        score: float | None = sum(items) / len(items)
    elif prompt_words:
        score = len(shared) / len(prompt_words)
    else:
        score = None
    return Match(score, groups, features, shared)
