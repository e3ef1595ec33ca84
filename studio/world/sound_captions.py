"""Captions for synthesised sounds, in the same train / held-out split style as `captions.py`.

A caption names the sound ("rain pattering on leaves") and often the scene it implies, worded
with the image world's own phrase tables ("... in the morning", "... on a stormy day",
"... by the sea"), so the sound's caption embedding lands near image captions of that scene.

Held out, never produced for `split="train"`: the second list of every table below (e.g. "a
babbling brook", "a stormy evening"), the eval templates ("you can hear ...", "audio of ...",
"... heard ...", "... accompanied by ..."), and every held-out phrase of the image world
(`captions.EVAL_ONLY_PHRASES`, which eval captions borrow for scene context).
`SOUND_EVAL_ONLY_PHRASES` lists them all; a test checks no training caption contains one.
"""

from __future__ import annotations

import numpy as np

from studio.world.captions import (
    EVAL_ONLY_PHRASES,
    FEATURE_NOUN,
    SEASON_PP,
    TIME_PP,
    WEATHER_ADJ,
    Split,
)
from studio.world.sounds import KIND_INDEX, SOUND_KINDS


class SoundCaptionError(ValueError):
    """Sound caption arguments are invalid; the message says which."""


# What one hears, per kind (noun phrases that read after "the sound of").
SOUND_PHRASES: dict[str, Split] = {
    "rain": (
        (
            "rain",
            "rain falling",
            "the patter of rain",
            "rain pattering on leaves",
            "steady rain",
            "raindrops",
        ),
        ("drizzle tapping on a roof", "a gentle shower"),
    ),
    "heavy_rain": (
        ("heavy rain", "pouring rain", "a heavy downpour", "rain pouring down", "a cloudburst"),
        ("torrential rain", "sheets of rain"),
    ),
    "thunderstorm": (
        ("a thunderstorm", "thunder and rain", "a thunderstorm rumbling", "thunder cracking over the rain"),
        ("a stormy evening", "lightning and thunder in the rain"),
    ),
    "distant_thunder": (
        ("distant thunder", "thunder rumbling far away", "a low roll of thunder"),
        ("faraway thunder", "a storm rumbling on the horizon"),
    ),
    "wind": (
        ("wind", "wind blowing", "gusts of wind", "a strong wind", "wind howling"),
        ("a gale", "a breeze whistling"),
    ),
    "blizzard": (
        ("a blizzard", "a snowstorm", "icy wind blowing snow", "a howling snowstorm"),
        ("a whiteout", "snow whipped by the wind"),
    ),
    "snow_crunch": (
        ("footsteps in snow", "snow crunching underfoot", "boots crunching through snow"),
        ("walking on fresh powder", "steps on crisp snow"),
    ),
    "ocean_waves": (
        ("ocean waves", "waves crashing on the shore", "the surf", "waves breaking", "the roar of the sea"),
        ("breakers rolling in", "the tide washing in"),
    ),
    "seagulls": (
        ("seagulls", "seagulls calling", "gulls crying over the surf", "seabirds calling"),
        ("gulls squawking above the waves", "a colony of gulls"),
    ),
    "stream": (
        ("a stream", "running water", "a burbling stream", "water flowing over rocks", "a river flowing"),
        ("a babbling brook", "a trickling creek"),
    ),
    "rustling_leaves": (
        ("rustling leaves", "wind in the trees", "leaves rustling in the wind", "the forest swaying"),
        ("a breeze through the branches", "treetops whispering"),
    ),
    "crackling_fire": (
        ("a crackling fire", "a crackling campfire", "a campfire", "fire crackling and popping", "a bonfire"),
        ("logs burning in a fire pit", "embers snapping"),
    ),
    "birdsong": (
        ("birdsong", "birds singing", "birds chirping", "a bird singing", "songbirds", "the dawn chorus"),
        ("warbling birds", "a songbird trilling"),
    ),
    "crickets": (
        ("crickets", "crickets chirping", "the chirp of crickets", "insects singing"),
        ("cicadas buzzing", "a chorus of crickets"),
    ),
    "owl": (
        ("an owl", "an owl hooting", "the hoot of an owl", "an owl calling"),
        ("a tawny owl calling", "an owl hooting in the dark"),
    ),
}

# Feature context: image-world nouns with a preposition that fits the feature.
_FEATURE_PREP = {"sea": "by the", "river": "by the", "forest": "in the", "beach": "on the"}

TRAIN_TEMPLATES = ("{s}", "the sound of {s}", "{s} {c}", "the sound of {s} {c}", "a recording of {s}")
EVAL_TEMPLATES = ("you can hear {s}", "audio of {s} {c}", "{s} heard {c}")
TRAIN_MIX_TEMPLATES = ("{a} and {b}", "{a} with {b}", "the sound of {a} and {b}", "{a} and {b} {c}")
EVAL_MIX_TEMPLATES = ("{a} accompanied by {b}", "you can hear {a} and {b}")
EVAL_MARKERS = ("you can hear", "audio of", "heard", "accompanied by")


def _pool(split_pair: Split, split: str) -> tuple[str, ...]:
    return split_pair[1] if split == "eval" else split_pair[0]


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _contexts(attributes: dict[str, str], split: str) -> list[str]:
    """Scene phrases for the attributes, from the image world's own train or held-out wording."""
    out: list[str] = []
    if "time" in attributes:
        out += _pool(TIME_PP[attributes["time"]], split)
    if "weather" in attributes:
        out += [f"on a {adj} day" for adj in _pool(WEATHER_ADJ[attributes["weather"]], split)]
    if "season" in attributes:
        out += _pool(SEASON_PP[attributes["season"]], split)
    if "feature" in attributes:
        prep = _FEATURE_PREP[attributes["feature"]]
        nouns = FEATURE_NOUN[attributes["feature"]][1 if split == "eval" else 0]
        out += [f"{prep} {noun}" for noun, _plural in nouns]
    return out


def make_sound_caption(
    kinds: tuple[str, ...] | list[str], rng: np.random.Generator, split: str = "train"
) -> str:
    """A caption for one kind or a mix (dominant first), with the implied scene about half the time."""
    if split not in ("train", "eval"):
        raise SoundCaptionError(f"split must be 'train' or 'eval', got {split!r}")
    kinds = tuple(kinds)
    attrs = {kind.name: kind.attributes for kind in SOUND_KINDS}
    if not 1 <= len(kinds) <= 2 or any(k not in SOUND_PHRASES for k in kinds):
        raise SoundCaptionError(f"kinds must be one or two of {tuple(SOUND_PHRASES)}, got {kinds!r}")
    phrases = [_pick(rng, _pool(SOUND_PHRASES[k], split)) for k in kinds]
    contexts = [c for k in kinds for c in _contexts(attrs[k], split)]
    context = _pick(rng, contexts) if contexts else ""
    if len(kinds) == 1:
        templates = EVAL_TEMPLATES if split == "eval" else TRAIN_TEMPLATES
        text = _pick(rng, templates).format(s=phrases[0], c=context)
    else:
        templates = EVAL_MIX_TEMPLATES if split == "eval" else TRAIN_MIX_TEMPLATES
        text = _pick(rng, templates).format(a=phrases[0], b=phrases[1], c=context)
    return " ".join(text.split())


def kind_prompts() -> dict[str, list[str]]:
    """A few canonical descriptions per kind for zero-shot recognition (all training wording)."""
    prompts: dict[str, list[str]] = {}
    for kind, (train, _held_out) in SOUND_PHRASES.items():
        scene = _contexts(SOUND_KINDS[KIND_INDEX[kind]].attributes, "train")
        prompts[kind] = [f"the sound of {train[0]}", train[1], f"{train[2]} {scene[0]}"]
    return prompts


def _eval_only_phrases() -> tuple[str, ...]:
    phrases: set[str] = set(EVAL_MARKERS) | set(EVAL_ONLY_PHRASES)
    for _train, held_out in SOUND_PHRASES.values():
        phrases.update(held_out)
    return tuple(sorted(phrases))


SOUND_EVAL_ONLY_PHRASES: tuple[str, ...] = _eval_only_phrases()
