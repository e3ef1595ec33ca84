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
    text = " ".join(str(prompt).split())
    for group, value in moves.items():
        phrase = PHRASES.get(group, {}).get(value)
        if phrase is None:
            continue
        hit = read_attributes(text).get(group)
        if hit is not None and hit[0] == value:
            continue
        if hit is not None:
            pattern = _LEAD + r"(?<![\w-])" + re.escape(hit[1]) + r"(?![\w-])"
            text = re.sub(pattern, " ", text, count=1, flags=re.IGNORECASE)
        text = f"{' '.join(text.split()).rstrip(' ,')} {phrase}".strip()
    return " ".join(text.split())
