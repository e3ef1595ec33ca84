"""Which sound encoder heard a recipe's sound, pinned in the recipe.

A sound edit renders from the sound's embedding, so the encoder is part of the recipe: a newer
encoder installed later must not change how an old node re-renders. New sound recipes store
`extra["sound_encoder"] = "NAME VERSION"`; recipes from before the pin were all heard by the
first shipped encoder, `sound_encoder`, so that is the one they keep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from studio.inference.manifest import ModelError, ModelInfo
from studio.recipe import Recipe

SOUND_ENCODER_KEY = "sound_encoder"  # recipe.extra: "NAME VERSION" of the encoder that heard its sound
LEGACY_ENCODER = "sound_encoder"  # what heard every sound recipe made before the pin existed


def pin_of(info: ModelInfo) -> str:
    return f"{info.name} {info.version}"


def pinned(recipe: Recipe, encoder: ModelInfo) -> Recipe:
    """The recipe with `encoder` stamped as the one that heard its sound."""
    return recipe.replace(extra={**recipe.extra, SOUND_ENCODER_KEY: pin_of(encoder)})


def newest(encoders: Sequence[ModelInfo]) -> ModelInfo:
    """The encoder new sounds are heard by (names break version ties, so the choice is stable)."""
    return max(encoders, key=lambda m: (m.version_key, m.name))


def encoder_for_recipe(
    encoders: Sequence[ModelInfo], recipe: Recipe, notice: Callable[[str], None]
) -> ModelInfo:
    """The installed encoder that heard `recipe`'s sound. A pin to an encoder that is not installed
    is a ModelError naming it; one whose version differs renders with a notice, as a generator of
    another version does. Unpinned (older) recipes get LEGACY_ENCODER while it is installed."""
    value = recipe.extra.get(SOUND_ENCODER_KEY)
    if value is None:
        legacy = next((m for m in encoders if m.name == LEGACY_ENCODER), None)
        if legacy is not None:
            return legacy
        chosen = newest(encoders)
        notice(
            f"this sound edit predates pinned sound encoders and {LEGACY_ENCODER} is not installed; "
            f"heard by {pin_of(chosen)}, so the image may differ"
        )
        return chosen
    name, _, version = str(value).rpartition(" ")
    if not name or not version:
        raise ModelError(f"the recipe's sound encoder {value!r} is not 'NAME VERSION'")
    found = next((m for m in encoders if m.name == name), None)
    if found is None:
        have = ", ".join(sorted(pin_of(m) for m in encoders))
        raise ModelError(
            f"this sound edit was heard by the sound encoder {name} {version}, which is not installed "
            f"(installed: {have}); install it to re-render the edit exactly"
        )
    if found.version != version:
        notice(f"sound heard by {name} {version}; hearing it with {found.version}, so the image may differ")
    return found
