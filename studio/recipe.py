"""Recipe: the small immutable record of how an image is made.

History nodes store recipes, not only pixels, so any image can be re-rendered bit-exactly on
the same provider and the pixel cache can be rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RECIPE_VERSION = 1
MAX_PROMPT_CHARS = 2000


SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1  # 64-bit: each seed stands for its own latent


class RecipeError(ValueError):
    """A recipe could not be read: the message says which field and why."""


def clean_prompt(prompt: str) -> str:
    """Strip control characters and collapse whitespace; long prompts are cut, not refused.

    The text encoder only sees its first 128 tokens anyway; cutting keeps the recipe small.
    """
    text = str(prompt)
    if not text.isprintable():  # the per-character pass only for the rare prompt that needs it
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text[:MAX_PROMPT_CHARS].rstrip()  # a cut can end in a space a reload would strip


def _finite(value: object) -> bool:
    """A real, finite number (huge ints and strings are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _short_int(value: int) -> str:
    """An integer as text, shortened when long (str() refuses over 4300 digits)."""
    if value.bit_length() < 200:
        return str(value)
    return f"(a {value.bit_length()}-bit {'negative ' if value < 0 else ''}number)"


_DECODER = json.JSONDecoder()


def loads(text: str | bytes) -> Any:
    """json.loads, about twice as fast on compact stored text (opening 10,000 nodes parses 20,000
    values): the scanner is called directly, and anything unusual (bytes, surrounding whitespace,
    errors) goes through json.loads so results and error messages stay exactly its own."""
    if isinstance(text, str):
        try:
            value, end = _DECODER.raw_decode(text)
        except (ValueError, RecursionError):
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def latent_for_seed(seed: int, dim: int) -> np.ndarray:
    """The latent a seed stands for: the same on every machine (PCG64 is portable)."""
    return np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF).standard_normal(dim).astype(np.float32)


@dataclass(frozen=True)
class Recipe:
    """How one image is made. Asset fields hold sha256 ids of files in the project's assets."""

    model: str
    model_version: str
    seed: int
    prompt: str = ""
    size: int = 256
    latent: tuple[float, ...] | None = None  # None: derived from the seed
    sketch: str | None = None  # PNG of class indices at the generator's resolution
    mask: str | None = None  # PNG, white = regenerate
    sound: str | None = None  # WAV
    strength: float = 0.0  # how far the sound/edit moves the conditioning
    extra: dict[str, Any] = field(default_factory=dict)  # forward-compatible, rendered-by keys
    version: int = RECIPE_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise RecipeError("recipe.model must be a non-empty string")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise RecipeError("recipe.seed must be an integer")
        if not SEED_MIN <= self.seed <= SEED_MAX:  # beyond 64 bits two seeds would share one latent
            raise RecipeError(
                f"seed {_short_int(self.seed)} is out of range: seeds are whole numbers from {SEED_MIN} "
                f"to {SEED_MAX}"
            )
        if not isinstance(self.size, int) or not 16 <= self.size <= 4096:
            raise RecipeError("recipe.size must be an integer from 16 to 4096")
        if not isinstance(self.strength, int | float) or not _finite(self.strength):
            raise RecipeError("recipe.strength must be a finite number")
        if self.latent is not None:
            if not self.latent or not all(_finite(v) for v in self.latent):
                raise RecipeError("recipe.latent must be a non-empty list of finite numbers")
            object.__setattr__(self, "latent", tuple(float(v) for v in self.latent))
        if not isinstance(self.extra, dict):
            raise RecipeError("recipe.extra must be an object")
        try:  # NaN/Infinity would be written as non-standard JSON and never equal themselves again
            if self.extra:
                json.dumps(self.extra, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise RecipeError(f"recipe.extra must hold plain JSON values with finite numbers: {exc}") from exc
        object.__setattr__(self, "prompt", clean_prompt(self.prompt))
        object.__setattr__(self, "strength", float(self.strength))

    def latent_vector(self, dim: int) -> np.ndarray:
        """The latent to feed the generator: explicit, or derived from the seed."""
        if self.latent is None:
            return latent_for_seed(self.seed, dim)
        if len(self.latent) != dim:
            raise RecipeError(f"recipe latent has {len(self.latent)} values, model wants {dim}")
        return np.asarray(self.latent, dtype=np.float32)

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Field by field: dataclasses.asdict deep-copies every latent float (slow at 10k nodes)."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["latent"] = None if self.latent is None else list(self.latent)
        data["extra"] = dict(self.extra)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        if not isinstance(data, dict):
            raise RecipeError("a recipe must be a JSON object")
        version = data.get("version", RECIPE_VERSION)
        if not isinstance(version, int) or version > RECIPE_VERSION:
            raise RecipeError(f"recipe version {version!r} is newer than this app understands")
        unknown = set(data) - _FIELD_NAMES
        known = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        if not isinstance(known.get("extra") or {}, dict):
            raise RecipeError("recipe.extra must be an object")
        if unknown:  # keep what a newer minor version added instead of losing it
            known["extra"] = {**dict(known.get("extra") or {}), **{k: data[k] for k in unknown}}
        for key in ("model", "model_version", "seed"):
            if key not in known:
                raise RecipeError(f"recipe is missing {key!r}")
        if known.get("latent") is not None and not isinstance(known["latent"], list | tuple):
            raise RecipeError("recipe.latent must be a list of numbers")
        if not isinstance(known.get("extra", {}), dict):
            raise RecipeError("recipe.extra must be an object")
        for key in ("sketch", "mask", "sound"):
            if known.get(key) is not None and not isinstance(known[key], str):
                raise RecipeError(f"recipe.{key} must be an asset id string")
        if not isinstance(known.get("prompt", ""), str) or not isinstance(known["model_version"], str):
            raise RecipeError("recipe.prompt and recipe.model_version must be strings")
        try:
            return cls(**known)
        except TypeError as exc:
            raise RecipeError(f"recipe has a field of the wrong type: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        try:
            data = loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecipeError(f"recipe is not valid JSON: {exc}") from exc
        except RecursionError:
            raise RecipeError("recipe JSON is nested too deeply to be a recipe") from None
        return cls.from_dict(data)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Recipe))
