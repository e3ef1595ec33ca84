"""A sound edit says its move in words as well: the prompt rewritten to the moved attributes.

On a generator with an attribute input, a sound edit first moved only that input. The words kept
pulling the other way: "desert dunes at noon" + an owl still said noon, and `studio eval`
(landscape128_v4, strength 1) saw the sound's attribute in 0.15 of the edited pictures, against
0.34 when the shipped 1.x generator blended the text toward the sound. The generator follows its
training wording well (0.95 time with it), so the edit now also moves the text embedding toward
the prompt with the moved attributes written in that wording: the phrase naming another value of
a moved group is cut, and the new value's phrase added. The layout and the latent stay.
"""

from __future__ import annotations

import re

from studio.inference.attributes import read_attributes
from studio.world.captions import SEASON_PP, TIME_PP, WEATHER_PP

PHRASES = {
    group: {value: split[0][0] for value, split in table.items()}
    for group, table in (
        ("time", TIME_PP),
        ("weather", WEATHER_PP),
        ("season", SEASON_PP),
    )
}
# A cut phrase takes its preposition with it: "a lake at noon" → "a lake", not "a lake at".
_LEAD = r"(?:\b(?:at|in|by|on|under|during|beneath|with|as)\s+(?:the\s+|a\s+|an\s+)?)?"


def prompt_moved(prompt: str, moves: dict[str, str]) -> str:
    """`prompt` saying the moved attributes: "desert dunes at noon", {"time": "night"} →
    "desert dunes at night". Groups it already says, or without a phrase, are left alone."""
    return _said(prompt, moves, keep_own_words=True)


def prompt_worded(prompt: str, attributes: dict[str, str | None]) -> str:
    """`prompt` saying each given attribute in the generator's training wording: the phrase the
    reader found for a group is cut and the group's training phrase added ("a creek under the moon",
    {"time": "night"} → "a creek at night"). Wording the generator never learned barely moves it
    (studio eval: the given time seen in 0.43 of pictures); its training wording does (0.95)."""
    return _said(prompt, attributes, keep_own_words=False)


def _said(prompt: str, attributes: dict[str, str | None], keep_own_words: bool) -> str:
    """`prompt` with each group's phrase replaced by its training phrase for the given value;
    `keep_own_words`: a group the prompt already says with that value keeps the prompt's words."""
    text = " ".join(str(prompt).split())
    for group, value in attributes.items():
        phrase = PHRASES.get(group, {}).get(value or "")
        if phrase is None:
            continue
        hit = read_attributes(text, families=False).get(group)
        if hit is not None and keep_own_words and hit[0] == value:
            continue
        if hit is not None:
            text = _cut(text, hit[1])
        text = f"{text.rstrip(' ,')} {phrase}".strip()
    return " ".join(text.split())


def without_attributes(text: str) -> str:
    """`text` with every time, weather and season phrase cut: "a lake at night in winter" → "a lake".
    Training gives G such captions beside all the attributes, so it learns to take them from the
    attribute input when the words do not say them (held-out wording)."""
    text = " ".join(str(text).split())
    for _ in range(8):  # a caption names each group at most a couple of times
        hits = [hit[1] for hit in read_attributes(text, families=False).values() if hit is not None]
        if not hits:
            break
        for phrase in hits:
            text = _cut(text, phrase)
    return " ".join(text.split()).strip(" ,")


def _cut(text: str, phrase: str) -> str:
    """The first `phrase` (whole words, any case) cut from `text` with its preposition."""
    pattern = _LEAD + r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])"
    return " ".join(re.sub(pattern, " ", text, count=1, flags=re.IGNORECASE).split())
