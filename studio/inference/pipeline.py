"""Pipeline: recipes in, images out. The one facade the UI and the CLI render through.

`render` is pure and deterministic for a recipe on a given provider: everything that shapes the
image (model, latent, prompt or embedding, sketch, size) is in the recipe, nothing comes from
state, so history nodes can be re-rendered bit-exactly from their recipes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from studio.audio.io import AudioError, read_audio
from studio.image_input import ImageInputError, open_image
from studio.inference.attributes import RECIPE_KEY as ATTRIBUTES_KEY
from studio.inference.attributes import SOUND_KEY as SOUND_ATTRIBUTES_KEY
from studio.inference.attributes import (
    AttributesError,
    attribute_vector,
    attributes_for_prompt,
    checked,
    within,
)
from studio.inference.audio_encoder import AudioEncoder, blend_toward
from studio.inference.compose import MaskError, composite, read_mask
from studio.inference.engine import Engine
from studio.inference.layout import LAYOUT_KEY, index_png, pick_layouts
from studio.inference.manifest import ModelError, ModelInfo
from studio.inference.registry import ModelRegistry
from studio.inference.sound_ground import GROUND, SNOW, snow_ground, sound_changes
from studio.inference.sound_pin import encoder_for_recipe, newest, pinned
from studio.inference.sound_words import prompt_moved, prompt_worded
from studio.inference.text_encoder import TextEncoder, TextEncoderError
from studio.limits import require
from studio.recipe import Recipe, RecipeError, clean_prompt

log = logging.getLogger(__name__)

MAX_BATCH = 64  # recipes per generator run: bounds memory for big variation grids
MAX_COUNT = 256


class PipelineError(RuntimeError):
    """A recipe cannot be rendered (missing asset, bad sketch, bad embedding): the message says which."""


class AssetSource(Protocol):
    """What render() needs from a project's asset store."""

    def get(self, sha: str) -> bytes: ...


class MemoryAssets:
    """Assets held in memory (content-addressed like a project's), for renders outside a project:
    evaluation, previews, tests."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}

    def put(self, data: bytes, ext: str = "bin") -> str:
        """Same signature as a project's store; `ext` only matters on disk."""
        sha = hashlib.sha256(data).hexdigest()
        self._files[sha] = data
        return sha

    def get(self, sha: str) -> bytes:
        return self._files[sha]


class Pipeline:
    """Registry + engine + text encoders, with batched rendering of recipes."""

    def __init__(self, registry: ModelRegistry | None = None, device: str = "auto") -> None:
        self.registry = registry if registry is not None else ModelRegistry()
        self.engine = Engine(device)
        for info in self.registry.models():
            if info.fp16_path is not None:
                self.engine.use_fp16_on_gpu(info.path, info.fp16_path)
        self.last_ms_per_image = 0.0
        self._encoders: dict[Path, tuple[object, TextEncoder]] = {}
        self._sound_embeddings: dict[tuple[Path, str], np.ndarray] = {}
        self._label_centres: dict[tuple[Path, Path], list[tuple[np.ndarray, dict]]] = {}
        self._notices: list[str] = []

    @property
    def provider(self) -> str:
        return self.engine.provider

    def drain_notices(self) -> list[str]:
        notices, self._notices = self._notices, []
        return self.engine.drain_notices() + notices

    def generators(self) -> list[ModelInfo]:
        return self.registry.generators()

    def default_generator(self) -> ModelInfo:
        generators = self.generators()
        if not generators:
            problems = "; ".join(p.message for p in self.registry.problems)
            where = ", ".join(str(f) for f in self.registry.folders)
            raise ModelError(
                f"no usable generator is installed (looked in {where})"
                + (f": {problems}" if problems else "")
            )
        # the sharpest, then the newest; max keeps the first of equals, so names break ties
        by_name = sorted(generators, key=lambda g: g.name)
        return max(by_name, key=lambda g: (g.resolution or 0, g.version_key))

    def recipes_for(
        self,
        prompt: str,
        seed: int = 1,
        count: int = 4,
        model: str | None = None,
        size: int = 256,
        attributes: dict[str, str | None] | None = None,
    ) -> list[Recipe]:
        """`count` variations of a prompt: seeds seed … seed+count-1 with the model's name and version.

        For a generator with an attribute input, each recipe stores the attributes it renders
        with: read from the prompt, with the groups `attributes` names pinned over them."""
        if not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            raise PipelineError(f"count must be an integer from 1 to {MAX_COUNT}, not {count!r}")
        info = self.registry.get(model) if model else self.default_generator()
        if info.kind != "generator":
            raise PipelineError(f"{info.name} is a {info.kind}, not a generator")
        extra = {ATTRIBUTES_KEY: self.attributes_for(prompt, attributes)} if info.attribute_groups else {}
        recipes = [
            Recipe(
                model=info.name,
                model_version=info.version,
                seed=seed + i,
                prompt=prompt,
                size=size,
                extra=extra,
            )
            for i in range(count)
        ]
        require_render_memory(recipes)
        return recipes

    @staticmethod
    def attributes_for(prompt: str, pinned: dict[str, str | None] | None = None) -> dict[str, str | None]:
        """What the reader understood in the prompt, with the artist's pinned groups over it."""
        read = attributes_for_prompt(prompt)
        try:
            chosen = checked({**read, **{g: v for g, v in (pinned or {}).items() if v is not None}})
        except AttributesError as exc:
            raise PipelineError(str(exc)) from exc
        return chosen

    def warm_up(self, model: str | None = None) -> None:
        """Create the sessions a generator needs now (off the UI thread), so `provider` is the real one."""
        info = self.registry.get(model) if model else self.default_generator()
        self._encoder(self.registry.text_encoder_for(info))
        self.engine.session(info.path)
        upscaler = self.registry.upscaler_for(info)
        if upscaler is not None:
            self.engine.session(upscaler.path)

    def encode_text(self, info: ModelInfo, prompts: list[str]) -> np.ndarray:
        """Text embeddings [N, D] for a generator's embedding space (also for blended sound edits)."""
        encoder = self._encoder(self.registry.text_encoder_for(info))
        try:
            return encoder.encode([clean_prompt(p) for p in prompts])
        except TextEncoderError as exc:
            raise ModelError(str(exc)) from exc

    def audio_encoder_for(self, info: ModelInfo, recipe: Recipe | None = None) -> ModelInfo:
        """The audio encoder of the generator's embedding space that hears a sound: the one that
        heard `recipe`'s sound (studio.inference.sound_pin), else the newest, for new sounds."""
        found = [
            m
            for m in self.registry.models()
            if m.kind == "audio_encoder" and m.embedding_space == info.embedding_space
        ]
        if not found:
            raise ModelError(
                f"{info.name} has no sound encoder of embedding space {info.embedding_space!r} installed"
            )
        return newest(found) if recipe is None else encoder_for_recipe(found, recipe, self._notice)

    def pin_sound_encoder(self, recipe: Recipe) -> Recipe:
        """A recipe whose sound is new, stamped with the encoder that hears it (the newest)."""
        return pinned(recipe, self.audio_encoder_for(self.registry.get(recipe.model)))

    def encode_sound(self, info: ModelInfo, samples: np.ndarray, recipe: Recipe | None = None) -> np.ndarray:
        """A sound (mono float32 at the encoder's rate) as a [D] vector in the generator's text space,
        heard by the encoder `audio_encoder_for(info, recipe)` picks."""
        audio_info = self.audio_encoder_for(info, recipe)
        return AudioEncoder(self.engine.session(audio_info.path), audio_info).embed(samples)

    def sound_rate(self, info: ModelInfo) -> int:
        return int(self.audio_encoder_for(info).manifest.get("sample_rate", 16000))

    def live_sound(
        self, recipe: Recipe, sound: np.ndarray, strength: float, hold: Collection[str] = ()
    ) -> Recipe:
        """A preview recipe moved by a live sound: through the attributes it implies where the
        generator has them (the picture keeps its words and layout), else by blending the text.
        `hold`: groups the artist unticked; the sound leaves them as the recipe has them.
        The preview is stamped with the encoder that heard the sound, so a capture keeps it."""
        info = self.registry.get(recipe.model)
        recipe = self.pin_sound_encoder(recipe)
        vector = self.encode_sound(info, sound, recipe)
        implied = self.sound_moves(info, vector, recipe) if info.attribute_groups else {}
        if implied:
            moved = {g: v for g, v in implied.items() if g not in hold}
            return recipe.replace(extra={**recipe.extra, SOUND_ATTRIBUTES_KEY: moved}, strength=strength)
        text = blend_toward(self.encode_text(info, [recipe.prompt])[0], vector, strength)
        return recipe.replace(extra={**recipe.extra, "text_embedding": text.tolist()})

    def recipe_conditioning(self, recipe: Recipe, assets: AssetSource | None = None) -> np.ndarray:
        """The [D] text vector a recipe really renders with (prompt, sound edit or explicit vector)."""
        return self._text(self.registry.get(recipe.model), [recipe], assets)[0]

    def imagine_layouts(self, recipes: Sequence[Recipe], put: Callable[[bytes], str]) -> list[Recipe]:
        """Give text-only recipes a layout from the generator's layout prior (when one is installed):
        the label map is stored with `put` (returns its asset id) and becomes the recipe's sketch,
        so the node re-renders exactly and the artist can repaint it. Others are returned as they are.
        """
        out = list(recipes)
        todo = [i for i, r in enumerate(out) if r.sketch is None and "text_embedding" not in r.extra]
        by_model: dict[str, list[int]] = {}
        for i in todo:
            by_model.setdefault(out[i].model, []).append(i)
        for model, indices in by_model.items():
            info = self.registry.get(model)
            prior = self.registry.layout_prior_for(info)
            if prior is None:
                continue
            prompts = [out[i].prompt for i in indices]
            result = self.engine.run(prior.path, {"text": self.encode_text(info, prompts).astype(np.float32)})
            pick = prior.manifest["pick"]
            chosen = pick_layouts(
                result["scores"],
                [out[i].seed for i in indices],
                [not p.strip() for p in prompts],
                float(pick["margin"]),
                int(pick["max_candidates"]),
            )
            for i, index in zip(indices, chosen, strict=True):
                sketch = put(index_png(result["layouts"][index]))
                extra = {**out[i].extra, LAYOUT_KEY: f"{prior.name} {prior.version} #{index}"}
                out[i] = out[i].replace(sketch=sketch, extra=extra)
        return out

    def render(
        self, recipes: Sequence[Recipe], assets: AssetSource | None = None, preview: bool = False
    ) -> list[np.ndarray]:
        """HxWx3 uint8 images, in the order of `recipes`; one batched generator run per model.

        `preview` skips the upscaler (a plain resize instead): live paint and sound frames trade
        detail for speed; committed nodes are always rendered in full.
        """
        start = time.perf_counter()
        require_render_memory(recipes)
        images: list[np.ndarray | None] = [None] * len(recipes)
        groups: dict[str, list[int]] = {}
        for i, recipe in enumerate(recipes):
            if not isinstance(recipe, Recipe):
                raise PipelineError(f"render takes Recipe objects, got {type(recipe).__name__}")
            groups.setdefault(recipe.model, []).append(i)
        for model, indices in groups.items():
            info = self.registry.get(model)
            if info.kind == "translator":  # picture → picture, from the recipe's source asset
                from studio.translate.runtime import render_translations

                done = render_translations(
                    self.engine,
                    self.registry,
                    info,
                    [recipes[i] for i in indices],
                    assets,
                    preview,
                    self._notice,
                )
                for i, image in zip(indices, done, strict=True):
                    images[i] = image
                continue
            if info.kind != "generator":
                raise PipelineError(f"{info.name} is a {info.kind}, not a generator")
            for chunk_start in range(0, len(indices), MAX_BATCH):
                chunk = indices[chunk_start : chunk_start + MAX_BATCH]
                for i, image in zip(
                    chunk, self._render_group(info, [recipes[i] for i in chunk], assets, preview), strict=True
                ):
                    images[i] = image
        if recipes:
            self.last_ms_per_image = (time.perf_counter() - start) * 1000.0 / len(recipes)
        return [image for image in images if image is not None]

    def _render_group(
        self, info: ModelInfo, recipes: list[Recipe], assets: AssetSource | None, preview: bool = False
    ) -> list[np.ndarray]:
        for recipe in recipes:
            if recipe.model_version != info.version:
                self._notice(
                    f"recipe made with {info.name} {recipe.model_version}; rendering with {info.version}, "
                    "so the image may differ"
                )
                break
        assert info.z_dim is not None and info.resolution is not None  # guaranteed by the manifest schema
        feeds: dict[str, np.ndarray] = {
            "z": np.stack([self._latent(r, info.z_dim) for r in recipes])
            * np.float32(info.latent_temperature),
            "text": self._text(info, recipes, assets),
        }
        n, res = len(recipes), info.resolution
        if info.input("labels") is not None:
            feeds["labels"] = np.stack([self._labels(info, r, assets) for r in recipes])
        if info.input("attributes") is not None:
            feeds["attributes"] = np.stack([self._attribute_row(info, r, assets) for r in recipes])
        if info.input("noise") is not None:
            feeds["noise"] = np.stack([noise_for_seed(r.seed, res) for r in recipes])
        if info.input("mask") is not None:  # inpainting models: regenerate everything
            feeds["mask"] = np.ones((n, 1, res, res), dtype=np.float32)
        if info.input("image") is not None:
            feeds["image"] = np.zeros((n, 3, res, res), dtype=np.float32)
        images = mirror_edges(self.engine.run(info.path, feeds)[info.image_output], info.edge_fill)
        upscaler = None if preview else self.registry.upscaler_for(info)
        bigger = [i for i, r in enumerate(recipes) if r.size > res]
        upscaled: dict[int, np.ndarray] = {}
        if upscaler is not None and bigger:
            out = self.engine.run(upscaler.path, {"image": np.ascontiguousarray(images[bigger])})
            upscaled = dict(zip(bigger, out[upscaler.image_output], strict=True))
        out = [_to_uint8(upscaled.get(i, images[i]), r.size) for i, r in enumerate(recipes)]
        return [_masked(out[i], r, assets) if r.mask else out[i] for i, r in enumerate(recipes)]

    def _notice(self, text: str) -> None:
        if text not in self._notices:
            log.info(text)
            self._notices.append(text)

    def label_centres(self, info: ModelInfo, recipe: Recipe | None = None) -> list[tuple[np.ndarray, dict]]:
        """(unit centre of its prompts' embeddings, label) for each sound the sound encoder
        `audio_encoder_for(info, recipe)` names in `listen_labels`; computed once per encoder pair
        (live sound asks per frame)."""
        audio_info = self.audio_encoder_for(info, recipe)
        key = (audio_info.path, self.registry.text_encoder_for(info).path)
        if key not in self._label_centres:
            labels = audio_info.manifest.get("listen_labels") or []
            centres = [self.encode_text(info, list(label["prompts"])).mean(axis=0) for label in labels]
            self._label_centres[key] = [
                (c / max(float(np.linalg.norm(c)), 1e-8), label)
                for c, label in zip(centres, labels, strict=True)
            ]
        return self._label_centres[key]

    def sound_attributes(
        self, info: ModelInfo, sound: np.ndarray, recipe: Recipe | None = None
    ) -> dict[str, str]:
        """The scene attributes a sound implies (owl → night), from the nearest of the labels of the
        encoder that heard it; only the groups this generator has. Empty: it implies none (waves)."""
        centres = self.label_centres(info, recipe)
        if not centres:
            return {}
        _centre, label = max(centres, key=lambda item: float(sound @ item[0]))
        return within(info.attribute_groups, dict(label.get("attributes", {})))

    def sound_moves(self, info: ModelInfo, sound: np.ndarray, recipe: Recipe | None = None) -> dict[str, str]:
        """What applying a sound (its [D] vector) changes in this generator's pictures: the
        attributes it implies and, where they bring winter or snowfall, snow on the ground
        (studio.inference.sound_ground). A recipe stores these, so it re-renders exactly."""
        return sound_changes(info, self.sound_attributes(info, sound, recipe))

    def _sound_mix(self, info: ModelInfo, recipe: Recipe, assets: AssetSource | None) -> dict[str, str]:
        """For a generator with attributes, what a recipe's sound edit moves (empty: blend the text)."""
        if not info.attribute_groups or recipe.strength == 0:
            return {}
        live = recipe.extra.get(SOUND_ATTRIBUTES_KEY)  # a live sound's, set by the worker per frame
        if isinstance(live, dict):
            return within(info.attribute_groups, live)
        if recipe.sound is None:
            return {}
        return self.sound_attributes(info, self._recipe_sound(info, recipe, assets), recipe)

    def _moves_attributes(self, info: ModelInfo, recipe: Recipe, assets: AssetSource | None) -> bool:
        """A sound edit moves attributes instead of blending the text: its sound implies some, or the
        recipe stored the ones it moves (none, when the artist unticked every change it heard)."""
        stored = isinstance(recipe.extra.get(SOUND_ATTRIBUTES_KEY), dict)
        return bool(info.attribute_groups) and (stored or bool(self._sound_mix(info, recipe, assets)))

    def _attribute_row(self, info: ModelInfo, recipe: Recipe, assets: AssetSource | None) -> np.ndarray:
        """The `attributes` input: the recipe's attributes, with a sound edit moving the groups its
        sound implies toward them by its strength (0..1). The layout and latent stay."""
        row = attribute_vector(self._attributes(recipe), info.attribute_groups)
        mix = self._sound_mix(info, recipe, assets)
        amount = float(np.clip(recipe.strength, 0.0, 1.0))
        start = 0
        for group, values in info.attribute_groups:
            part = row[start : start + len(values)]
            if group in mix:
                part *= 1.0 - amount
                part[values.index(mix[group])] += amount
            start += len(values)
        return row * info.attribute_gain

    @staticmethod
    def _attributes(recipe: Recipe) -> dict[str, str | None]:
        """The attributes a recipe stored, or (older recipes) what the reader finds in its prompt."""
        stored = recipe.extra.get(ATTRIBUTES_KEY)
        if stored is None:
            return attributes_for_prompt(recipe.prompt)
        try:
            return checked(stored)
        except AttributesError as exc:
            raise PipelineError(f"the recipe's attributes cannot be used: {exc}") from exc

    @staticmethod
    def _latent(recipe: Recipe, z_dim: int) -> np.ndarray:
        try:
            return recipe.latent_vector(z_dim)
        except RecipeError as exc:
            raise PipelineError(str(exc)) from exc

    def _recipe_sound(self, info: ModelInfo, recipe: Recipe, assets: AssetSource | None) -> np.ndarray:
        """The embedding of a recipe's sound asset by the encoder that heard it (cached per encoder
        and sound)."""
        audio_info = self.audio_encoder_for(info, recipe)
        key = (audio_info.path, recipe.sound or "")
        if key not in self._sound_embeddings:
            data = _asset(assets, recipe.sound or "", "sound")
            try:
                audio = read_audio(data, rate=int(audio_info.manifest.get("sample_rate", 16000)))
            except AudioError as exc:
                raise PipelineError(f"the recipe's sound cannot be used: {exc}") from exc
            self._sound_embeddings[key] = self.encode_sound(info, audio.samples, recipe)
        return self._sound_embeddings[key]

    def _text(self, info: ModelInfo, recipes: list[Recipe], assets: AssetSource | None) -> np.ndarray:
        spec = info.input("text")
        dim = (
            spec.shape[1]
            if spec is not None and isinstance(spec.shape[1], int) and spec.shape[1] > 0
            else None
        )
        rows: list[np.ndarray | None] = [_explicit_embedding(r, dim) for r in recipes]
        todo = [i for i, row in enumerate(rows) if row is None]
        if todo:
            prompts = [self.worded_prompt(info, recipes[i]) for i in todo]
            encoded = self.encode_text(info, prompts)
            for i, prompt, vector in zip(todo, prompts, encoded, strict=True):
                recipe = recipes[i]
                moves = self._sound_mix(info, recipe, assets)
                if moves:  # the edit says its move in words too (sound_words)
                    worded = self.encode_text(info, [prompt_moved(prompt, moves)])[0]
                    vector = blend_toward(vector, worded, float(np.clip(recipe.strength, 0.0, 1.0)))
                elif (
                    recipe.sound is not None
                    and recipe.strength != 0
                    and not self._moves_attributes(info, recipe, assets)
                ):
                    vector = blend_toward(vector, self._recipe_sound(info, recipe, assets), recipe.strength)
                rows[i] = vector
        text = np.stack([row for row in rows if row is not None]).astype(np.float32)
        if dim is not None and text.shape[1] != dim:
            raise ModelError(
                f"{info.name} wants text embeddings of {dim} values, its text encoder gives {text.shape[1]}"
            )
        return text

    def worded_prompt(self, info: ModelInfo, recipe: Recipe) -> str:
        """The prompt the generator reads: on a generator that asks for it (attribute_wording), the
        recipe's attributes said in its training wording; otherwise the prompt as typed."""
        if not info.attribute_wording:
            return recipe.prompt
        groups = dict(info.attribute_groups)
        given = {g: v for g, v in self._attributes(recipe).items() if g in groups and v in groups[g]}
        return prompt_worded(recipe.prompt, given)

    def _encoder(self, info: ModelInfo) -> TextEncoder:
        """One TextEncoder per model file, rebuilt if the engine replaced the session (CPU fallback)."""
        session = self.engine.session(info.path)
        cached = self._encoders.get(info.path)
        if cached is not None and cached[0] is session:
            return cached[1]
        assert info.tokenizer is not None  # guaranteed by the manifest schema
        try:
            encoder = TextEncoder(session, info.tokenizer, max_tokens=info.max_tokens or 128)
        except TextEncoderError as exc:
            raise ModelError(f"{info.name}: {exc}") from exc
        self._encoders[info.path] = (session, encoder)
        return encoder

    def _labels(self, info: ModelInfo, recipe: Recipe, assets: AssetSource | None) -> np.ndarray:
        """One-hot [C, R, R] from the recipe's sketch; no sketch means all "unknown" (text only).
        A sound edit that stored ground → snow moves grass and flowers to snow by its strength."""
        classes, res = len(info.label_classes), info.resolution or 0
        index = np.zeros((res, res), dtype=np.int64)
        if recipe.sketch is not None:
            try:
                png = _asset(assets, recipe.sketch, "sketch")
            except PipelineError:
                png = self._imagined_layout(recipe)
                if png is None:
                    raise
            index = sketch_indices(png, info)
        labels = np.eye(classes, dtype=np.float32)[index].transpose(2, 0, 1).copy()
        moves = recipe.extra.get(SOUND_ATTRIBUTES_KEY)
        if isinstance(moves, dict) and moves.get(GROUND) == SNOW:  # stored by the sound edit that brings it
            labels = snow_ground(labels, [c.name for c in info.label_classes], recipe.strength)
        return labels

    def _imagined_layout(self, recipe: Recipe) -> bytes | None:
        """An imagined layout is its prior's scene number: a PNG that travelled without its project
        (e.g. `studio generate` without --project, then imported) still re-renders exactly."""
        name, _, rest = str(recipe.extra.get(LAYOUT_KEY, "")).partition(" ")
        version, _, number = rest.partition(" #")
        try:
            prior = self.registry.get(name)
        except ModelError:
            return None
        if prior.kind != "layout_prior" or prior.version != version or not number.isdigit():
            return None
        layouts = self.engine.run(prior.path, {"text": np.zeros((1, prior.dim or 0), np.float32)})["layouts"]
        return index_png(layouts[int(number)]) if int(number) < len(layouts) else None


def require_render_memory(recipes: Sequence[Recipe]) -> None:
    """Refuse, before any work, a batch whose pictures do not fit in memory: each is held as
    pixels and again while it is encoded (3 bytes a pixel, twice)."""
    sizes = [r.size for r in recipes if isinstance(r, Recipe)]
    if sizes:
        require(
            sum(6 * s * s for s in sizes),
            f"{len(sizes)} image(s) of up to {max(sizes)} px",
            "make fewer or smaller images at a time",
        )


def _explicit_embedding(recipe: Recipe, dim: int | None) -> np.ndarray | None:
    """recipe.extra["text_embedding"]: an embedding set by a blended (e.g. sound) edit, used as is."""
    value = recipe.extra.get("text_embedding")
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not value:
        raise PipelineError("recipe extra 'text_embedding' must be a non-empty list of numbers")
    try:
        vector = np.asarray([float(v) for v in value], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise PipelineError("recipe extra 'text_embedding' must be a list of numbers") from exc
    if not np.all(np.isfinite(vector)):
        raise PipelineError("recipe extra 'text_embedding' contains values that are not finite")
    if dim is not None and vector.shape[0] != dim:
        raise PipelineError(
            f"recipe extra 'text_embedding' has {vector.shape[0]} values, the model wants {dim}"
        )
    return vector


def _masked(image: np.ndarray, recipe: Recipe, assets: AssetSource | None) -> np.ndarray:
    """Masked regeneration: the new render only inside the recipe's mask, over its base image."""
    base_id = recipe.extra.get("base_image")
    if not isinstance(base_id, str):
        raise PipelineError("a masked recipe needs extra 'base_image' (the image it edits)")
    try:
        mask = read_mask(_asset(assets, recipe.mask or "", "mask"), recipe.size)
        base = open_image(_asset(assets, base_id, "base image"), "the base image")
        base_pixels = np.asarray(base.convert("RGB"))
    except (MaskError, ImageInputError) as exc:
        raise PipelineError(f"the masked edit cannot be rendered: {exc}") from exc
    return composite(base_pixels, image, mask)


def _asset(assets: AssetSource | None, sha: str, what: str) -> bytes:
    if assets is None:
        raise PipelineError(
            f"the recipe's {what} asset {sha[:12]} cannot be loaded: no project assets were given"
        )
    try:
        return assets.get(sha)
    except Exception as exc:  # stores raise KeyError, OSError or their own error for a missing file
        raise PipelineError(f"the recipe's {what} asset {sha[:12]} is missing or unreadable: {exc}") from exc


INDEX_MODES = ("L", "I", "I;16")  # the app's own sketches: one class index per pixel


@dataclass(frozen=True)
class SketchMap:
    """A sketch read for a model: class indices [R, R], the picture's own size, and how far off the
    palette it was (largest channel difference of each pixel from its class colour, [R, R])."""

    indices: np.ndarray
    size: tuple[int, int]
    off_palette: np.ndarray | None  # None for index sketches


def read_sketch(png: bytes, info: ModelInfo, drawing: bool = False) -> SketchMap:
    """Index sketches (L/I whose values are class indices) by value; any other picture (RGB,
    palette, grey+alpha) by its colours, each pixel the nearest class colour. `drawing` (a file
    from outside the app): a grey picture whose values are not class indices is read by colour
    too; a project's own sketch asset with such values is damage and refused.
    Resized to the model's resolution (nearest) before any per-pixel work, so a huge picture
    costs only its decode, which is checked against memory first."""
    classes, res = info.label_classes, info.resolution or 0
    try:
        image = open_image(png, "the sketch")
    except ImageInputError as exc:
        raise PipelineError(str(exc)) from exc
    size = image.size
    if image.size != (res, res):
        image = image.resize((res, res), Image.Resampling.NEAREST)
    if image.mode in INDEX_MODES:
        index = np.asarray(image, dtype=np.int64)
        top = int(index.max(initial=0))
        if 0 <= int(index.min(initial=0)) and top < len(classes):
            return SketchMap(index, size, None)
        if image.mode != "L" or not drawing:
            raise PipelineError(
                f"the sketch uses class index {top}, but {info.name} knows {len(classes)} classes"
            )
    # colours (RGB, palette, grey+alpha, or a grey drawing whose values are not class indices)
    rgb = np.asarray(image.convert("RGB"), dtype=np.int32)
    palette = np.asarray([c.color for c in classes], dtype=np.int32)
    difference = rgb[:, :, None, :] - palette[None, None]
    index = (difference**2).sum(-1).argmin(-1)
    off = np.abs(np.take_along_axis(difference, index[:, :, None, None], axis=2)).max(axis=(2, 3))
    return SketchMap(index.astype(np.int64), size, off)


def sketch_indices(png: bytes, info: ModelInfo) -> np.ndarray:
    """A sketch PNG as class indices [R, R] (see read_sketch)."""
    return read_sketch(png, info).indices


def _to_uint8(chw: np.ndarray, size: int) -> np.ndarray:
    """[-1, 1] CHW float → HxWx3 uint8 at exactly `size` (LANCZOS for both directions)."""
    chw = np.nan_to_num(np.asarray(chw, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    hwc = np.clip((chw.transpose(1, 2, 0) + 1.0) * 127.5, 0, 255)
    pixels = np.rint(hwc).astype(np.uint8)
    if pixels.shape[0] != size or pixels.shape[1] != size:
        pixels = np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.LANCZOS))
    return np.ascontiguousarray(pixels)


def noise_for_seed(seed: int, resolution: int) -> np.ndarray:
    """The per-pixel noise map a seed stands for ([1, R, R]): portable, like its latent."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, 0x6E6F697365])  # "noise"
    return rng.standard_normal((1, resolution, resolution)).astype(np.float32)


def mirror_edges(images: np.ndarray, width: int) -> np.ndarray:
    """[N, C, H, W] with the outer `width` rows and columns replaced by the mirror of the pixels
    just inside them (numpy's "reflect"): removes a generator's frame of padding lines."""
    if width <= 0:
        return images
    inner = images[:, :, width:-width, width:-width]
    return np.pad(inner, ((0, 0), (0, 0), (width, width), (width, width)), mode="reflect")
