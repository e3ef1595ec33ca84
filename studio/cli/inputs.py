"""Files the `studio generate` options name (sketch, mask, base image, sound) → recipe fields.

Each file is checked and stored as a content-addressed asset (in the project when one is given,
else in memory), so the PNG written carries a recipe that re-renders exactly from the project.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import CommandError
from studio.image_input import ImageInputError, open_image
from studio.inference.manifest import ModelInfo
from studio.limits import read_file
from studio.recipe import Recipe


def read_input(path: Path, what: str) -> bytes:
    """A file the user named, checked against memory first; unreadable → a clear CommandError."""
    try:
        return read_file(path, f"the {what}")
    except OSError as exc:
        raise CommandError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def recipe_inputs(args: argparse.Namespace, pipe, info: ModelInfo, assets) -> tuple[dict[str, Any], str]:
    """Recipe changes for --sketch/--mask/--base/--sound/--strength, and the node kind they make;
    `changes["extra"]` holds keys to add to each recipe's extra (see with_inputs)."""
    from studio.inference.compose import read_mask
    from studio.inference.sketch import mask_warnings, normalise_sketch

    changes: dict[str, Any] = {}
    kind = "generate"
    if args.sketch is not None:
        png, warnings = normalise_sketch(read_input(args.sketch, "sketch"), info)
        _warn(warnings)
        changes["sketch"] = assets.put(png, "png")
        kind = "paint"
    if args.mask is not None or args.base is not None:
        if args.mask is None or args.base is None:
            raise CommandError("--mask and --base go together: the mask says where to change the base image")
        mask_png = read_input(args.mask, "mask")
        _warn(mask_warnings(read_mask(mask_png, info.resolution or 64)))
        base = _png_of(read_input(args.base, "base image"), args.base)
        changes["mask"] = assets.put(mask_png, "png")
        changes["extra"] = {"base_image": assets.put(base, "png")}
        kind = "masked"
    if args.sound is not None:
        sound = _sound_changes(args, pipe, info, assets)
        changes["extra"] = {**changes.get("extra", {}), **sound.pop("extra")}
        changes.update(sound)
        kind = "sound" if kind == "generate" else kind
    elif args.strength is not None or args.keep:
        raise CommandError(f"{'--strength' if args.strength is not None else '--keep'} needs --sound")
    return changes, kind


def _sound_changes(args: argparse.Namespace, pipe, info: ModelInfo, assets) -> dict[str, Any]:
    from studio.audio.io import MAX_SOUND_SECONDS, AudioError, read_audio, wav_bytes
    from studio.inference.attributes import SOUND_KEY
    from studio.inference.audio_encoder import listen, loudness_strength
    from studio.inference.sound_pin import SOUND_ENCODER_KEY, pin_of

    rate = pipe.sound_rate(info)
    try:
        audio = read_audio(args.sound, rate=rate, max_seconds=MAX_SOUND_SECONDS)  # streams only the cut
    except AudioError as exc:
        raise CommandError(f"{args.sound}: {exc}") from exc
    _warn(list(audio.warnings))
    strength = loudness_strength(audio.samples) if args.strength is None else args.strength
    if not np.isfinite(strength) or not 0.0 <= strength <= 2.0:
        raise CommandError(f"--strength must be a number from 0 to 2, not {args.strength}")
    vector = pipe.encode_sound(info, audio.samples)  # heard once: for the verdict and the moves
    if strength > 0 and not args.closest:  # a sound it cannot place moves nothing unless asked to
        heard = listen(pipe, info, audio.samples, vector)
        if heard.ranked and not heard.placed:  # (an encoder without labels places no sound: it blends)
            raise CommandError(
                f"{args.sound}: {heard.verdict()}, so no picture was made "
                f"(--closest applies what {heard.ranked[0][0]} would change)"
            )
    extra = {SOUND_ENCODER_KEY: pin_of(pipe.audio_encoder_for(info))}  # the encoder that heard it
    moves = pipe.sound_moves(info, vector) if info.attribute_groups else {}
    if moves:  # stored as the app's Apply stores the ticked changes, less those --keep leaves alone
        kept = {g: v for g, v in moves.items() if g not in (args.keep or ())}
        if not kept:
            heard = ", ".join(f"{g} → {v}" for g, v in moves.items())
            raise CommandError(f"{args.sound}: --keep leaves nothing for it to change (it changes {heard})")
        extra[SOUND_KEY] = kept
    return {
        "sound": assets.put(wav_bytes(audio.samples, rate), "wav"),
        "strength": round(float(strength), 4),
        "extra": extra,
    }


def with_inputs(recipe: Recipe, changes: dict[str, Any]) -> Recipe:
    """The recipe with recipe_inputs' changes; their extra keys join the recipe's own."""
    extra = {**recipe.extra, **changes.get("extra", {})}
    return recipe.replace(**{**changes, "extra": extra})


def _png_of(data: bytes, path: Path) -> bytes:
    """Any readable image as PNG bytes (a JPEG base is stored losslessly from here on)."""
    try:
        image = open_image(data, str(path))
    except ImageInputError as exc:
        raise CommandError(str(exc)) from exc
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
