"""Captions for world scenes, and a keyword parser that reads attributes back from text.

Every wording table holds two disjoint lists: phrasings used for training captions and
held-out phrasings used only for `split="eval"`, so eval measures how a model copes with
paraphrases it never saw. Held out, and never produced for training:

* templates that start "a view of ...", "picture ...", "... seen <time>", "<season>, <time>: ..."
  (all of EVAL_MARKERS);
* the synonyms in the second list of each table below (e.g. "at first light", "under the moon",
  "tarn", "creek", "woodland", "hazy", "during a downpour", "vernal", "as the leaves turn").

`EVAL_ONLY_PHRASES` lists them all; a test checks no training caption contains one.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

TIMES = ("dawn", "morning", "noon", "afternoon", "sunset", "dusk", "night")
WEATHERS = ("clear", "cloudy", "overcast", "foggy", "rainy", "stormy", "snowy")
SEASONS = ("spring", "summer", "autumn", "winter")
FEATURES = (
    "mountains",
    "snowy peaks",
    "lake",
    "sea",
    "river",
    "forest",
    "meadow",
    "rocks",
    "beach",
    "dunes",
    "flowers",
)

Split = tuple[tuple[str, ...], tuple[str, ...]]  # (train phrasings, eval-only phrasings)

TIME_PP: dict[str, Split] = {
    "dawn": (("at dawn", "at sunrise", "at daybreak"), ("at first light",)),
    "morning": (("in the morning", "in the early morning"), ("in the morning hours",)),
    "noon": (("at noon", "at midday"), ("under the high sun",)),
    "afternoon": (("in the afternoon",), ("in the late afternoon light",)),
    "sunset": (("at sunset", "at sundown"), ("as the sun goes down",)),
    "dusk": (("at dusk", "at twilight"), ("as evening falls",)),
    "night": (("at night", "by night"), ("under the moon",)),
}
TIME_NOUN: dict[str, Split] = {
    "dawn": (("dawn", "sunrise"), ("first light",)),
    "morning": (("morning",), ("morning light",)),
    "noon": (("noon", "midday"), ("high noon",)),
    "afternoon": (("afternoon",), ("late afternoon",)),
    "sunset": (("sunset", "sundown"), ("golden hour",)),
    "dusk": (("dusk", "twilight"), ("evening",)),
    "night": (("night",), ("midnight",)),
}
WEATHER_ADJ: dict[str, Split] = {
    "clear": (("clear",), ("cloudless",)),
    "cloudy": (("cloudy",), ("cloud-dotted",)),
    "overcast": (("overcast", "grey"), ("gloomy",)),
    "foggy": (("misty", "foggy"), ("hazy",)),
    "rainy": (("rainy",), ("drizzly",)),
    "stormy": (("stormy",), ("tempestuous",)),
    "snowy": (("snowy",), ("snowbound",)),
}
WEATHER_PP: dict[str, Split] = {
    "clear": (("under a clear sky", "in clear weather"), ("with not a cloud in sight",)),
    "cloudy": (("under a cloudy sky", "with drifting clouds"), ("beneath scattered clouds",)),
    "overcast": (("under an overcast sky", "under a grey sky"), ("beneath a leaden sky",)),
    "foggy": (("in thick fog", "in the mist"), ("wrapped in haze",)),
    "rainy": (("in the rain", "under falling rain"), ("during a downpour",)),
    "stormy": (("during a storm", "under storm clouds"), ("as a tempest rages",)),
    "snowy": (("in falling snow", "during a snowfall"), ("as snowflakes drift down",)),
}
# Wordings that only fit some times of day: (weather, time) -> train phrasings.
_WEATHER_TIME_TRAIN: dict[tuple[str, str], tuple[str, ...]] = {
    ("cloudy", "sunset"): ("with golden clouds",),
    ("cloudy", "dawn"): ("with pink clouds",),
    ("clear", "night"): ("under a starry sky",),
}
_DAY_ONLY_ADJ = {"sunny": "clear"}
SEASON_PP: dict[str, Split] = {
    "spring": (("in spring", "in springtime"), ("as spring arrives",)),
    "summer": (("in summer", "in the summer"), ("on a midsummer day",)),
    "autumn": (("in autumn", "in the fall"), ("as the leaves turn",)),
    "winter": (("in winter", "in wintertime"), ("in the depths of midwinter",)),
}
SEASON_ADJ: dict[str, Split] = {
    "spring": (("spring",), ("vernal",)),
    "summer": (("summer",), ("midsummer",)),
    "autumn": (("autumn", "autumnal"), ("golden-leaved",)),
    "winter": (("winter", "wintry"), ("frostbound",)),
}
# Feature nouns: (phrase, plural).
NounSplit = tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]
FEATURE_NOUN: dict[str, NounSplit] = {
    "mountains": ((("mountains", True), ("mountain range", False), ("peaks", True)), (("summits", True),)),
    "snowy peaks": (
        (("snowy peaks", True), ("snow-capped mountains", True), ("snowy mountains", True)),
        (("white-capped summits", True),),
    ),
    "lake": ((("lake", False), ("mountain lake", False)), (("tarn", False), ("loch", False))),
    "sea": ((("sea", False), ("ocean", False)), (("bay", False),)),
    "river": ((("river", False), ("stream", False)), (("creek", False), ("brook", False))),
    "forest": ((("forest", False), ("woods", True)), (("woodland", False), ("grove", False))),
    "meadow": ((("meadow", False), ("grassland", False), ("field", False)), (("pasture", False),)),
    "rocks": ((("rocks", True), ("boulders", True)), (("stones", True), ("crags", True))),
    "beach": ((("beach", False), ("sandy shore", False)), (("shoreline", False),)),
    "dunes": ((("dunes", True), ("desert", False), ("sand dunes", True)), (("sandhills", True),)),
    "flowers": ((("flowers", True), ("wildflowers", True)), (("blooms", True), ("blossoms", True))),
}
REL_BELOW_PEAKS: Split = (("under", "below", "beneath"), ("at the foot of", "in the shadow of"))
REL_ABOVE: Split = (("above", "over"), ("towering over",))
REL_WITH: Split = (("with", "by", "near"), ("next to", "alongside"))

# Templates. Slots: {S} subject, {Sw} subject with a weather adjective, {Ssw} with weather and
# season adjectives, {Ss} with a season adjective, {T} time phrase, {Tn} time noun, {W} weather
# phrase, {SE} season phrase. Each template names time, weather and season exactly once.
TRAIN_TEMPLATES = (
    "{Sw} {T} {SE}",
    "{S} {W} {T}, {SE}",
    "{Tn} over {Sw} {SE}",
    "{Ssw} {T}",
    "{T}, {S} {W} {SE}",
    "a painting of {Sw} {T} {SE}",
    "{SE}, {Sw} {T}",
    "{Ss} {W} {T}",
)
EVAL_TEMPLATES = (
    "a view of {Sw} {T} {SE}",
    "{SE}, {T}: {S} {W}",
    "picture {Ssw} {T}",
    "{S} {W}, seen {T} {SE}",
)
EVAL_MARKERS = ("a view of", "picture", "seen", ":")

_EXTRA_KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "time": {
        "dawn": ("daybreak",),
        "night": ("nighttime", "moonlit", "moon", "starlit"),
        "noon": ("high sun",),
        "sunset": ("sun goes down",),
        "dusk": ("evening falls",),
    },
    "weather": {
        "clear": ("sunny", "starry sky", "starry", "not a cloud"),
        "cloudy": ("clouds", "golden clouds", "pink clouds"),
        "foggy": ("fog", "mist", "haze"),
        "rainy": ("rain", "downpour", "drizzle"),
        "stormy": ("storm", "thunderstorm", "storm clouds", "thunder", "lightning", "tempest"),
        "snowy": ("snow", "snowfall", "snowing", "snowflakes"),
    },
    "season": {
        "autumn": ("fall", "leaves turn"),
        "spring": ("springtime",),
        "winter": ("wintertime", "midwinter"),
    },
    "features": {
        "mountains": ("mountain", "hills", "peak", "alps"),
        "snowy peaks": ("snow-capped", "white-capped", "glacier"),
        "sea": ("seaside", "coast", "waves"),
        "forest": ("trees", "tree", "pines", "pine", "wood"),
        "meadow": ("grass", "grassy", "fields"),
        "rocks": ("rock", "rocky", "boulder", "stone"),
        "dunes": ("sand", "dune"),
        "flowers": ("flower", "flowery"),
        "lake": ("pond",),
        "beach": ("shore",),
    },
}


class CaptionError(ValueError):
    """Caption arguments are invalid; the message says which."""


def _pool(table: dict[str, Split], key: str, split: str) -> tuple[str, ...]:
    return table[key][1] if split == "eval" else table[key][0]


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def _noun_phrase(
    rng: np.random.Generator, feature: str, split: str, adjectives: list[str], definite: bool
) -> str:
    nouns = FEATURE_NOUN[feature][1 if split == "eval" else 0]
    noun, plural = nouns[int(rng.integers(len(nouns)))]
    words = " ".join([*adjectives, noun])
    if plural:
        return words
    return "the " + words if definite else _article(words)


def _mentioned_features(rng: np.random.Generator, features: list[str]) -> list[str]:
    """The 1-3 features the caption names, most salient first (peaks stand in for mountains)."""
    feats = [f for f in features if not (f == "mountains" and "snowy peaks" in features)]
    salience = {
        "lake": 5,
        "sea": 5,
        "river": 4,
        "dunes": 5,
        "forest": 3,
        "meadow": 2,
        "snowy peaks": 3,
        "mountains": 2.5,
        "beach": 2,
        "rocks": 1,
        "flowers": 1.5,
    }
    scores = np.array([salience[f] for f in feats]) + rng.uniform(0, 2.5, len(feats))
    ordered = [feats[i] for i in np.argsort(-scores)]
    count = min(len(ordered), int(rng.choice([1, 2, 2, 3, 3])))
    return ordered[:count]


def _subject(rng: np.random.Generator, mentioned: list[str], split: str, adjectives: list[str]) -> str:
    head, rest = mentioned[0], mentioned[1:]
    text = _noun_phrase(rng, head, split, adjectives, definite=False)
    for i, feature in enumerate(rest):
        if feature in ("mountains", "snowy peaks"):
            rel = _pick(rng, _pool({"r": REL_BELOW_PEAKS}, "r", split))
        elif head in ("mountains", "snowy peaks") and feature in ("lake", "sea", "river", "meadow", "forest"):
            rel = _pick(rng, _pool({"r": REL_ABOVE}, "r", split))
        else:
            rel = _pick(rng, _pool({"r": REL_WITH}, "r", split))
        phrase = _noun_phrase(rng, feature, split, [], definite=bool(rng.random() < 0.4))
        text += (" and " if i == 1 and rng.random() < 0.5 else f" {rel} ") + phrase
    return text


def _weather_adjectives(attrs: dict, split: str, head_text: str) -> tuple[str, ...]:
    options = list(_pool(WEATHER_ADJ, attrs["weather"], split))
    if split == "train" and attrs["weather"] == "clear":
        if attrs["time"] in ("morning", "noon", "afternoon"):
            options += [a for a, w in _DAY_ONLY_ADJ.items() if w == "clear"]
        if attrs["time"] == "night":
            options.append("starry")
    return tuple(o for o in options if not ("snow" in o and "snow" in head_text)) or ("",)


def make_caption(attrs: dict, rng: np.random.Generator, split: str = "train") -> str:
    """A caption naming the time, weather, season and 1-3 main features, in varied wording."""
    if split not in ("train", "eval"):
        raise CaptionError(f"split must be 'train' or 'eval', got {split!r}")
    for key, allowed in (("time", TIMES), ("weather", WEATHERS), ("season", SEASONS)):
        if attrs.get(key) not in allowed:
            raise CaptionError(f"attribute {key!r} must be one of {allowed}, got {attrs.get(key)!r}")
    features = list(attrs.get("features") or [])
    if not features or not all(f in FEATURES for f in features):
        raise CaptionError(f"features must be a non-empty list drawn from {FEATURES}, got {features!r}")
    mentioned = _mentioned_features(rng, features)
    head_nouns = " ".join(n for n, _ in FEATURE_NOUN[mentioned[0]][0] + FEATURE_NOUN[mentioned[0]][1])
    w_adj = _pick(rng, _weather_adjectives(attrs, split, head_nouns))
    s_adj = _pick(rng, _pool(SEASON_ADJ, attrs["season"], split))
    w_pp = list(_pool(WEATHER_PP, attrs["weather"], split))
    if split == "train":
        w_pp += list(_WEATHER_TIME_TRAIN.get((attrs["weather"], attrs["time"]), ()))
    weather_phrase = _pick(rng, w_pp)
    slots = {
        "S": _subject(rng, mentioned, split, []),
        "Sw": _subject(rng, mentioned, split, [w_adj] if w_adj else []),
        "Ssw": _subject(rng, mentioned, split, [a for a in (w_adj, s_adj) if a]),
        "Ss": _subject(rng, mentioned, split, [s_adj]),
        "T": _pick(rng, _pool(TIME_PP, attrs["time"], split)),
        "Tn": _pick(rng, _pool(TIME_NOUN, attrs["time"], split)),
        "W": weather_phrase,
        "SE": _pick(rng, _pool(SEASON_PP, attrs["season"], split)),
    }
    templates = EVAL_TEMPLATES if split == "eval" else TRAIN_TEMPLATES
    template = _pick(rng, templates)
    if not w_adj:  # the weather must still be named once
        template = template.replace("{Sw}", "{S} {W}").replace("{Ssw}", "{Ss} {W}")
    return " ".join(template.format(**slots).split())


@lru_cache(maxsize=1)
def _keyword_patterns() -> list[tuple[re.Pattern[str], str, str]]:
    """(pattern, group, value) for every phrase we generate plus common words, longest first."""
    entries: dict[str, tuple[str, str]] = {}

    def add(group: str, value: str, phrases: tuple[str, ...] | list[str]) -> None:
        for phrase in phrases:
            entries.setdefault(phrase, (group, value))

    for group, tables in (
        ("time", (TIME_PP, TIME_NOUN)),
        ("weather", (WEATHER_PP, WEATHER_ADJ)),
        ("season", (SEASON_PP, SEASON_ADJ)),
    ):
        for table in tables:
            for value, (train, held_out) in table.items():
                add(group, value, train + held_out)
    for (weather, _time), phrases in _WEATHER_TIME_TRAIN.items():
        add("weather", weather, phrases)
    for feature, (train, held_out) in FEATURE_NOUN.items():
        add("features", feature, [n for n, _ in train + held_out])
    for group, values in _EXTRA_KEYWORDS.items():
        for value, phrases in values.items():
            add(group, value, phrases)
    ordered = sorted(entries.items(), key=lambda item: -len(item[0]))
    return [(re.compile(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])"), g, v) for p, (g, v) in ordered]


def attributes_from_text(text: str) -> dict:
    """Best-effort keyword parse of a prompt into attributes; groups it cannot find are None.

    Longer phrases win ("snowy peaks" is a feature, not snowy weather) and a matched span is
    consumed so its words are not read twice.
    """
    lowered = " ".join(str(text).lower().split())
    found: dict[str, list[tuple[int, str]]] = {"time": [], "weather": [], "season": [], "features": []}
    for pattern, group, value in _keyword_patterns():
        for match in pattern.finditer(lowered):
            found[group].append((match.start(), value))
            lowered = lowered[: match.start()] + "#" * (match.end() - match.start()) + lowered[match.end() :]
    result: dict = {}
    for group in ("time", "weather", "season"):
        result[group] = min(found[group])[1] if found[group] else None
    features = {value for _, value in found["features"]}
    if "snowy peaks" in features:
        features.add("mountains")
    result["features"] = sorted(features) if features else None
    return result


def _eval_only_phrases() -> tuple[str, ...]:
    phrases: set[str] = set(EVAL_MARKERS)
    for table in (TIME_PP, TIME_NOUN, WEATHER_ADJ, WEATHER_PP, SEASON_PP, SEASON_ADJ):
        for _train, held_out in table.values():
            phrases.update(held_out)
    for _train, held_out in FEATURE_NOUN.values():
        phrases.update(n for n, _ in held_out)
    phrases.update(REL_BELOW_PEAKS[1] + REL_ABOVE[1] + REL_WITH[1])
    return tuple(sorted(phrases))


EVAL_ONLY_PHRASES: tuple[str, ...] = _eval_only_phrases()
