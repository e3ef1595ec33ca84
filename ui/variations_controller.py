"""Variations: binds the Variations panel to the selected node, the worker and the project.

Vary commits jittered children of the selected node; the seed browser previews neighbouring seeds
and Keep commits one; Interpolate renders a strip between a remembered node A and the selected one
(previews) and Keep frame commits the picked frame with both as parents; Breed mixes 2–4 picked
nodes into one child with all of them as parents; the discovered controls (computed once per model
in the worker, then kept in project meta) move the selected node live and Keep commits it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.inference.layout import forget_layout, is_imagined
from studio.project.store import Node, NodeNotFoundError
from studio.recipe import Recipe
from studio.variations import (
    Direction,
    VariationError,
    apply_directions,
    breed,
    directions_from_json,
    directions_to_json,
    interpolate,
    jitter,
    principal_directions,
    recipe_embedder,
)
from ui.image_view import ImageView, to_qimage
from ui.row_labels import VARIATION_KEY
from ui.session import JobHandle, Session
from ui.variations_panel import VariationsPanel
from ui.worker import Job, JobError, RenderRequest

log = logging.getLogger(__name__)
META_DIRECTIONS = "variations.directions"  # {"model", "version", "directions": [...]}


class VariationsController(QObject):
    """Owns the Variations panel; works on the session's selected node, previews in the view."""

    strip_ready = Signal(int)  # frames shown in the strip
    directions_ready = Signal(list)  # list[Direction], sliders built

    def __init__(self, session: Session, view: ImageView, panel: VariationsPanel | None = None) -> None:
        super().__init__(session)
        self.session, self.view = session, view
        session.selection_changed.connect(self._selected)
        self.panel = panel or VariationsPanel()
        self.a_id = ""
        self.mix: list[str] = []
        self.frames: list[Recipe] = []
        self.frame_ends: tuple[str, str] = ("", "")
        self._frame_images: list[np.ndarray] = []
        self.directions: list[Direction] = []
        self._directions_model = ""
        self._seed_base = ""
        self._seed_recipe: Recipe | None = None
        self._direction_base = ""
        self._direction_recipe: Recipe | None = None
        p = self.panel
        p.vary_requested.connect(self.vary)
        p.seed_step.connect(self.step_seed)
        p.seed_keep_requested.connect(self.keep_seed)
        p.set_a_requested.connect(self.set_a)
        p.interpolate_requested.connect(self.interpolate)
        p.frame_picked.connect(self.show_frame)
        p.keep_frame_requested.connect(self.keep_frame)
        p.add_to_mix_requested.connect(self.add_to_mix)
        p.mix_cleared.connect(self.clear_mix)
        p.breed_requested.connect(self.breed)
        p.directions_wanted.connect(self.compute_directions)
        p.direction_moved.connect(self.preview_directions)
        p.keep_direction_requested.connect(self.keep_directions)

    # --- helpers --------------------------------------------------------------------------------
    def _current(self) -> Node | None:
        node_id = self.session.selected
        if not node_id:
            self.session.notify("Select an image first: variations start from the selected picture.")
            return None
        return self.session.project.node(node_id)

    def _z_dim(self, model: str) -> int | None:
        info = self.session.info
        for generator in info.generators if info is not None else []:
            if generator.name == model and generator.z_dim:
                return int(generator.z_dim)
        self.session.notify(f"The model {model} is not loaded, so its latent space is unknown.")
        return None

    def _label(self, node_id: str) -> str:
        recipe = self.session.project.node(node_id).recipe
        return f"{recipe.prompt or '(anything)'} · seed {recipe.seed}"

    def _selected(self, node_id: str) -> None:
        if node_id:
            self.show_node(self.session.project.node(node_id))

    def show_node(self, node: Node) -> None:
        """Another picture is selected: the controls start from zero on it, as nothing moved it yet."""
        if node.id != self._direction_base:
            self._direction_base, self._direction_recipe = "", None
            self.panel.reset_directions()

    # --- vary and seeds -------------------------------------------------------------------------
    def vary(self) -> JobHandle | None:
        """Commit N jittered children of the selected node (kind "vary")."""
        node = self._current()
        z_dim = self._z_dim(node.recipe.model) if node is not None else None
        if node is None or z_dim is None:
            return None
        strength, count = self.panel.variation_strength(), self.panel.variation_count()
        children = [
            child.replace(extra={**child.extra, VARIATION_KEY: strength})  # the row says "variation 0.3"
            for child in jitter(node.recipe, z_dim, strength, count, secrets.randbits(32))
        ]
        return self.session.commit(RenderRequest(kind="vary", recipes=tuple(children), parents=(node.id,)))

    def step_seed(self, delta: int) -> JobHandle | None:
        """Preview the selected node with the seed next to the one last previewed (not stored)."""
        node = self._current()
        if node is None:
            return None
        if self._seed_base != node.id or self._seed_recipe is None:
            self._seed_base, self._seed_recipe = node.id, node.recipe
        recipe = node.recipe.replace(seed=self._seed_recipe.seed + int(delta), latent=None)
        if self._imagine(node.recipe):  # another seed, another layout: as Generate would pick
            recipe = forget_layout(recipe)
        self._seed_recipe = recipe
        self.panel.set_seed(recipe.seed)
        request = RenderRequest(
            recipes=(recipe,), commit=False, lane="seeds", imagine_layout=self._imagine(recipe)
        )
        return self.session.submit(request, on_done=self._show_preview)

    def _show_preview(self, reply) -> None:
        self.view.set_image(to_qimage(np.asarray(reply[0])))

    def _imagine(self, recipe: Recipe) -> bool:
        return self.session.settings.imagine_layout and (is_imagined(recipe) or recipe.sketch is None)

    def keep_seed(self) -> JobHandle | None:
        if self._seed_recipe is None or not self._seed_base:
            self.session.notify("Browse to a seed with ◀ or ▶ first.")
            return None
        recipe = self._seed_recipe
        return self.session.commit(
            RenderRequest(
                kind="seed",
                recipes=(recipe,),
                parents=(self._seed_base,),
                imagine_layout=self._imagine(recipe),
            )
        )

    # --- interpolation --------------------------------------------------------------------------
    def set_a(self) -> None:
        node = self._current()
        if node is not None:
            self.a_id = node.id
            self.panel.set_a(self._label(node.id))

    def interpolate(self) -> JobHandle | None:
        """Render the strip A → selected node in the worker (previews, nothing stored)."""
        node = self._current()
        if node is None:
            return None
        if not self.a_id or self.a_id == node.id:
            self.session.notify("Set A on one image, select another, then interpolate.")
            return None
        try:
            a, b = self.session.project.node(self.a_id).recipe, node.recipe
        except NodeNotFoundError:
            self.a_id = ""
            self.panel.set_a("—")
            self.session.notify("A is not in this project any more: set A again.")
            return None
        steps, ends = self.panel.frame_count(), (self.a_id, node.id)

        def run(pipe, project, _progress) -> Any:
            try:
                z_dim = int(pipe.registry.get(a.model).z_dim)
                frames = interpolate(a, b, steps, recipe_embedder(pipe, project.assets), z_dim)
            except VariationError as exc:
                raise JobError(f"Cannot interpolate: {exc}") from exc
            return ends, frames, pipe.render(frames, project.assets, preview=True)

        return self.session.submit(
            Job(run=run, lane="variations-strip", queued=False), on_done=self._show_strip
        )

    def _show_strip(self, strip) -> None:
        self.frame_ends, self.frames, self._frame_images = strip
        self.panel.set_frames([to_qimage(np.asarray(i)) for i in self._frame_images])
        self.show_frame(0)
        self.strip_ready.emit(len(self.frames))

    def show_frame(self, index: int) -> None:
        if 0 <= index < len(self._frame_images):
            self.view.set_image(to_qimage(self._frame_images[index]))

    def keep_frame(self) -> JobHandle | None:
        index = self.panel.current_frame()
        if not 0 <= index < len(self.frames):
            self.session.notify("Interpolate first, then pick a frame to keep.")
            return None
        return self.session.commit(
            RenderRequest(kind="interpolate", recipes=(self.frames[index],), parents=self.frame_ends)
        )

    # --- breeding -------------------------------------------------------------------------------
    def add_to_mix(self) -> None:
        node = self._current()
        if node is None:
            return
        if node.id in self.mix:
            self.session.notify("That image is already in the mix.")
            return
        if len(self.mix) >= 4:
            self.session.notify("A mix holds up to 4 parents; clear it to start another.")
            return
        self.mix.append(node.id)
        self.panel.set_mix([self._label(i) for i in self.mix])

    def clear_mix(self) -> None:
        self.mix = []
        self.panel.set_mix([])

    def breed(self) -> JobHandle | None:
        """Mix the parents in the worker (embeddings need the text encoder), then commit the child."""
        if len(self.mix) < 2:
            self.session.notify("Add at least two images to the mix to breed.")
            return None
        try:
            parents = [self.session.project.node(i).recipe for i in self.mix]
        except NodeNotFoundError:
            self.clear_mix()
            self.session.notify("The mix held images of another project; it was emptied, add them again.")
            return None
        ids, weights = tuple(self.mix), self.panel.mix_weights()

        def run(pipe, project, _progress) -> Any:
            try:
                z_dim = int(pipe.registry.get(parents[0].model).z_dim)
                return breed(parents, weights, recipe_embedder(pipe, project.assets), z_dim)
            except VariationError as exc:
                raise JobError(f"Cannot breed: {exc}") from exc

        def commit(child: Recipe) -> None:
            self.session.commit(RenderRequest(kind="breed", recipes=(child,), parents=ids))

        return self.session.submit(Job(run=run, lane="variations-breed"), on_done=commit)

    # --- discovered controls --------------------------------------------------------------------
    def compute_directions(self) -> JobHandle:
        """Principal directions of the model, from project meta when stored, else computed in the worker."""
        self.panel.set_directions_note("Computing controls…")
        model = self.session.settings.model or None

        def run(pipe, project, _progress) -> Any:
            info = pipe.registry.get(model) if model else pipe.default_generator()
            stored = project.meta_get(META_DIRECTIONS) if project is not None else None
            if isinstance(stored, dict) and (stored.get("model"), stored.get("version")) == (
                info.name,
                info.version,
            ):
                try:
                    return info.name, directions_from_json(stored.get("directions"))
                except VariationError as exc:
                    log.warning("stored controls are unreadable, computing them again: %s", exc)
            try:
                directions = principal_directions(pipe, info.name)
            except VariationError as exc:
                raise JobError(f"Controls cannot be computed: {exc}") from exc
            if project is not None:
                record = {
                    "model": info.name,
                    "version": info.version,
                    "directions": directions_to_json(directions),
                }
                project.meta_set(META_DIRECTIONS, record)
            return info.name, directions

        return self.session.submit(
            Job(run=run, lane="variations-directions"),
            on_done=self._set_directions,
            on_error=lambda message: self.panel.set_directions_note(message.splitlines()[0]),
        )

    def _set_directions(self, reply: tuple[str, list[Direction]]) -> None:
        self._directions_model, self.directions = reply
        self.panel.set_directions(self.directions)
        self.directions_ready.emit(list(self.directions))

    def preview_directions(self) -> JobHandle | None:
        """Live: the selected node moved along the controls (newest wins, nothing stored)."""
        node = self._current()
        if node is None or not self.directions:
            return None
        if node.recipe.model != self._directions_model:
            self.session.notify(f"The controls belong to {self._directions_model}, not {node.recipe.model}.")
            return None
        z_dim = len(self.directions[0].vector)
        try:
            recipe = apply_directions(node.recipe, z_dim, self.panel.amounts(), self.directions)
        except VariationError as exc:
            self.session.notify(f"Cannot move the picture: {exc}")
            return None
        self._direction_base, self._direction_recipe = node.id, recipe
        return self.session.submit(
            RenderRequest(recipes=(recipe,), commit=False, lane="directions"), on_done=self._show_preview
        )

    def keep_directions(self) -> JobHandle | None:
        if self._direction_recipe is None or not self._direction_base:
            self.session.notify("Move a control first, then keep the result.")
            return None
        job = self.session.commit(
            RenderRequest(
                kind="direction", recipes=(self._direction_recipe,), parents=(self._direction_base,)
            )
        )
        self._direction_recipe = None
        self.panel.reset_directions()
        return job
