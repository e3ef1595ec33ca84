"""What a picture shows, for features that start from a picture (hearing it, describing it).

Attributes (time, weather, season) come from the recipe where there is one — what the picture was
rendered with, sound edits included — and otherwise are read from the pixels: the image encoder
shares the text encoder's space, so each value's phrases (the attribute lexicon, training wording
only) give a centre and the nearest centre wins (on 200 world renders: time 0.84, weather 0.77,
season 0.79; chance 0.14/0.14/0.25). Features come from the segmenter: what covers the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from studio.inference.attribute_lexicon import LEXICON
from studio.inference.attributes import RECIPE_KEY, SOUND_KEY, attributes_for_prompt, checked
from studio.inference.image_encoder import ImageEncoder, image_encoder_for
from studio.inference.manifest import ModelError
from studio.inference.segmenter import Segmenter
from studio.recipe import Recipe

PHRASES_PER_VALUE = 8


@dataclass(frozen=True)
class SceneReading:
    """Attributes (group → value or None), class shares (name → fraction), and where each came from."""

    attributes: dict[str, str | None]
    fractions: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # group → "recipe", "prompt", "sound", "picture"


def recipe_attributes(recipe: Recipe) -> tuple[dict[str, str | None], dict[str, str]]:
    """The attributes a recipe rendered with (stored, else read from its prompt), a sound edit's on top."""
    stored = recipe.extra.get(RECIPE_KEY)
    try:
        attrs = checked(stored) if stored is not None else attributes_for_prompt(recipe.prompt or "")
    except ValueError:
        attrs = attributes_for_prompt(recipe.prompt or "")
    sources = {g: ("recipe" if stored is not None else "prompt") for g, v in attrs.items() if v}
    sound = recipe.extra.get(SOUND_KEY)
    if isinstance(sound, dict):
        for group, value in sound.items():
            if group in LEXICON and value in LEXICON[group]:
                attrs[group], sources[group] = value, "sound"
    return attrs, sources


class SceneReader:
    """Reads pictures with the installed image encoder and segmenter of a generator's space."""

    def __init__(self, pipe, info) -> None:
        self.pipe, self.info = pipe, info
        self._centres: dict[str, tuple[tuple[str, ...], np.ndarray]] | None = None
        self._encoder: ImageEncoder | None = None
        self._segmenter: Segmenter | None | bool = False

    def encoder(self) -> ImageEncoder:
        if self._encoder is None:
            found = image_encoder_for(self.pipe.registry.models(), self.info.embedding_space)
            self._encoder = ImageEncoder(self.pipe.engine, found)
        return self._encoder

    def centres(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Per group: its values and the unit centre of each value's phrases [V, D]."""
        if self._centres is None:
            self._centres = {}
            for group, values in LEXICON.items():
                rows = []
                for phrases in values.values():
                    chosen = list(phrases[:PHRASES_PER_VALUE])
                    vectors = self.pipe.encode_text(self.info, chosen + [f"a landscape {p}" for p in chosen])
                    centre = vectors.mean(0)
                    rows.append(centre / max(float(np.linalg.norm(centre)), 1e-8))
                self._centres[group] = (tuple(values), np.stack(rows))
        return self._centres

    def read_attributes(self, pixels: np.ndarray) -> dict[str, str]:
        """Each group's nearest value for one HxWx3 uint8 picture."""
        vector = self.encoder().embed([pixels])[0]
        return {g: values[int(np.argmax(c @ vector))] for g, (values, c) in self.centres().items()}

    def fractions(self, pixels: np.ndarray) -> dict[str, float]:
        """Share of the picture per segmenter class; empty when no segmenter is installed."""
        if self._segmenter is False:
            found = [m for m in self.pipe.registry.models() if m.kind == "segmenter"]
            self._segmenter = (
                Segmenter(self.pipe.engine, max(found, key=lambda m: m.version_key)) if found else None
            )
        if self._segmenter is None:
            return {}
        labels = self._segmenter.segment([pixels])[0]
        names = [c.name for c in self._segmenter.info.label_classes]
        counts = np.bincount(labels.ravel(), minlength=len(names)) / labels.size
        return {name: float(counts[i]) for i, name in enumerate(names) if counts[i] > 0}

    def read(self, pixels: np.ndarray, recipe: Recipe | None = None) -> SceneReading:
        """The scene: the recipe's attributes where it names them, the picture's for the rest."""
        attrs, sources = recipe_attributes(recipe) if recipe is not None else ({}, {})
        missing = [g for g in LEXICON if not attrs.get(g)]
        if missing:
            try:
                seen = self.read_attributes(pixels)
            except ModelError:
                seen = {}
            for group in missing:
                attrs[group] = seen.get(group)
                if seen.get(group):
                    sources[group] = "picture"
        return SceneReading({g: attrs.get(g) for g in LEXICON}, self.fractions(pixels), sources)
