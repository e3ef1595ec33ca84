"""Paint mode: binds the semantic canvas to the selected node, the worker and the project.

The canvas starts from the selected node: its picture underneath and its sketch (the one it was
made with, or one derived by the segmenter). While the artist paints, every stroke asks the
worker for a live preview with the same latent (newest wins, nothing stored). The painted
result becomes a history node when the artist keeps it, regenerates inside a mask, or moves on
to another node, and the canvas sketch is saved in the project at the end of every stroke, so
a killed app loses no painting.
"""

from __future__ import annotations

import hashlib
import io
import logging

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPushButton

from studio.inference.layout import forget_layout
from studio.project.store import Node, NodeNotFoundError, ProjectError
from studio.recipe import Recipe
from ui.canvas import SemanticCanvas
from ui.image_view import ImageView, to_qimage
from ui.paint_panel import PaintPanel
from ui.prompt_panel import PromptPanel
from ui.session import JobHandle, Session
from ui.worker import Job, JobError, RenderRequest

log = logging.getLogger(__name__)
CANVAS_SIZE = 256
META_SKETCH = "paint.sketch"  # asset id of the canvas sketch, saved after every edit or load
META_MASK = "paint.mask"  # asset id of the canvas mask ("" when nothing is masked)
META_TOKEN = "paint.canvas"  # the canvas token, so saved strokes apply to the restored canvas
META_BASE = "paint.base"  # the node the canvas paints on
META_MASKS = "paint.masks"  # {node id: mask asset id}: each picture keeps the mask painted on it
META_CLEAN = "paint.clean"  # sha of the sketch as loaded or kept: only painting since then is unkept work


class PaintController(QObject):
    """Owns the canvas and its panel; reads the prompt panel, shows live pictures in the view.
    Whoever shows nodes calls `show_node` on selection changes."""

    preview_shown = Signal()

    def __init__(self, session: Session, prompt: PromptPanel, view: ImageView) -> None:
        super().__init__(session)
        self.session, self.prompt, self.view = session, prompt, view
        self.canvas = SemanticCanvas(size=CANVAS_SIZE, undo_stack=session.undo_stack)
        self.canvas.setAccessibleName("Semantic paint canvas")
        self.panel = PaintPanel(self.canvas)
        self.keep_button = QPushButton("Keep painting as a node")
        self.keep_button.setToolTip("Store the painted result in the history (Ctrl+Shift+K)")
        self.keep_button.setAccessibleName("Keep painting")
        self.keep_button.clicked.connect(self.keep)
        self.panel.layout().addWidget(self.keep_button)
        self.base: Node | None = None
        self._clean = ""  # sha of the sketch PNG as loaded or last kept: painting since makes it dirty
        self.canvas.sketch_changed.connect(self._live)
        self.canvas.patch_store = lambda data: self.session.project.assets.put(data, "npy")
        self.canvas.edited.connect(self.save_canvas)
        self.panel.sketch_from_image_requested.connect(self.sketch_from_image)
        self.panel.regenerate_in_mask_requested.connect(self.regenerate_in_mask)

    # --- state ----------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Painted since the sketch was loaded or kept (so moving on keeps it as a node)."""
        return self.base is not None and _sha(self.canvas.sketch_png()) != self._clean

    def _mark_clean(self) -> None:
        self._clean = _sha(self.canvas.sketch_png())

    def show_node(self, node: Node | None) -> None:
        """Paint on another node: keep what was painted on the previous one first."""
        if self.base is not None and node is not None and node.id == self.base.id:
            return
        if self.dirty:
            self.keep()
        self._stash_mask()
        self.base = node
        self.canvas.set_image(self.session.image_for(node) if node is not None else None)
        self._show_mask(node)
        if node is None:
            return
        if node.recipe.sketch is not None and self._load_sketch(node.recipe.sketch):
            self._mark_clean()
            self.save_canvas()
            return
        self._mark_clean()  # until the segmenter's sketch arrives
        self.save_canvas()
        self.sketch_from_image()

    def _masks(self) -> dict[str, str]:
        masks = self.session.project.meta_get(META_MASKS)
        return dict(masks) if isinstance(masks, dict) else {}

    def _stash_mask(self) -> None:
        """Remember the canvas mask with the node it was painted on (forget it once cleared)."""
        project = self.session.project
        if self.base is None or project.readonly or project.closed:
            return
        masks = self._masks()
        try:
            if self.canvas.has_mask():
                masks[self.base.id] = project.assets.put(self.canvas.mask_png(), "png")
            elif masks.pop(self.base.id, None) is None:
                return
            project.meta_set(META_MASKS, masks)
        except ProjectError as exc:
            self.session.notify(f"The mask could not be saved: {exc}")

    def _show_mask(self, node: Node | None) -> None:
        """The mask painted on this node before, or none: a mask never follows the artist elsewhere."""
        mask_id = self._masks().get(node.id) if node is not None else None
        if mask_id:
            self._load_mask(mask_id)
        elif self.canvas.has_mask():
            self.canvas.set_mask(np.zeros((self.canvas.canvas_size,) * 2, np.uint8))

    def saved_base(self) -> Node | None:
        """The node the canvas painted on when the project was last open, if it still exists."""
        base_id = self.session.project.meta_get(META_BASE)
        try:
            return self.session.project.node(base_id) if base_id else None
        except NodeNotFoundError:
            return None

    def restore(self) -> None:
        """After opening a project: the canvas as it was at the last stroke (also after a crash)."""
        base = self.saved_base()
        sketch_id = self.session.project.meta_get(META_SKETCH)
        self.base = base
        self.canvas.set_image(self.session.image_for(base) if base is not None else None)
        blank = np.zeros((self.canvas.canvas_size, self.canvas.canvas_size), np.uint8)
        self.canvas.set_sketch(blank)  # nothing of another project's painting stays on the canvas
        self.canvas.set_mask(blank)
        if sketch_id and (base is not None or not self.session.project.nodes()):
            self._load_sketch(sketch_id)  # also a sketch painted on the blank canvas of an empty project
            mask_id = self.session.project.meta_get(META_MASK)
            if mask_id:
                self._load_mask(mask_id)
            token = self.session.project.meta_get(META_TOKEN)
            if token:
                self.canvas.adopt_token(token)  # the saved strokes were made on exactly this canvas
        # what was clean when the project closed is clean now: a loaded or derived sketch is no edit
        self._clean = self.session.project.meta_get(META_CLEAN) or _sha(self.canvas.sketch_png())

    def _load_sketch(self, sha: str) -> bool:
        """Recipes and the canvas store sketches as class-index PNGs: load one onto the canvas."""
        try:
            image = Image.open(io.BytesIO(self.session.project.assets.get(sha)))
            if image.mode not in ("L", "P"):
                raise ValueError(f"it is a {image.mode} image, not class indices")
            self.canvas.set_sketch(np.asarray(image, dtype=np.uint8))
        except (KeyError, OSError, ValueError) as exc:
            self.session.notify(f"The sketch could not be loaded: {exc}")
            return False
        return True

    def _load_mask(self, sha: str) -> None:
        try:
            image = Image.open(io.BytesIO(self.session.project.assets.get(sha)))
            self.canvas.set_mask(np.asarray(image.convert("L"), dtype=np.uint8))
        except (KeyError, OSError, ValueError) as exc:
            self.session.notify(f"The mask could not be loaded: {exc}")

    def save_canvas(self) -> None:
        """Save base node, sketch, mask and token where a crash cannot lose them (small PNG assets)."""
        project = self.session.project
        if project.readonly or project.closed:
            return
        try:
            sketch = project.assets.put(self.canvas.sketch_png(), "png")
            mask = project.assets.put(self.canvas.mask_png(), "png") if self.canvas.has_mask() else ""
            # one transaction: a crash never pairs a sketch with another node or older strokes' token
            project.meta_set_many(
                {
                    META_BASE: self.base.id if self.base is not None else "",
                    META_SKETCH: sketch,
                    META_MASK: mask,
                    META_TOKEN: self.canvas.token,
                    META_CLEAN: self._clean,
                }
            )
        except ProjectError as exc:  # e.g. the disk is full: painting goes on, the artist is told
            self.session.notify(f"The painting could not be saved: {exc}")

    def _recipe(self, sketch_sha: str) -> Recipe | None:
        """The base node's recipe with the current prompt and the canvas sketch (same latent); with
        no node yet (an empty project), a fresh recipe from the prompt panel's seed, so painting on
        a blank canvas already renders live."""
        prompt = self.prompt.text()
        if self.base is not None:
            recipe = self.base.recipe
            if sketch_sha != recipe.sketch:  # painted over: no longer the imagined layout
                recipe = forget_layout(recipe, sketch_sha)
            return recipe.replace(prompt=prompt)
        info = self.session.info.default if self.session.info is not None else None
        if info is None:
            return None
        seed, size = self.prompt.seed_value(), self.session.settings.size
        return Recipe(info.name, info.version, seed=seed, prompt=prompt, size=size, sketch=sketch_sha)

    # --- live -----------------------------------------------------------------------------------
    def _live(self) -> None:
        """Re-render the painted sketch everywhere. The mask only marks where Regenerate in mask will
        work, so it never limits the live picture (that hid the painted strokes outside it)."""
        if not self.panel.is_live() or not self.canvas.isVisible():
            return
        png = self.canvas.sketch_png()
        sha = _sha(png)
        recipe = self._recipe(sha)
        if recipe is None:
            return
        self.session.submit(
            RenderRequest(recipes=(recipe,), commit=False, memory_assets=((sha, png),), lane="paint"),
            on_done=self._show_preview,
        )

    def _show_preview(self, reply) -> None:
        qimage = to_qimage(np.asarray(reply[0]))
        self.canvas.set_image(qimage)
        self.view.set_image(qimage)
        self.preview_shown.emit()

    def sketch_for_generate(self) -> str | None:
        """The canvas sketch as a project asset when anything is painted (Generate uses it)."""
        if not self.canvas.sketch().any():
            return None
        self._mark_clean()
        self.save_canvas()
        return self.session.project.assets.put(self.canvas.sketch_png(), "png")

    # --- commits --------------------------------------------------------------------------------
    def keep(self) -> JobHandle | None:
        """Commit the painted picture as a "paint" node, child of the node painted on (a root when
        the canvas started blank)."""
        sha = self.session.project.assets.put(self.canvas.sketch_png(), "png")
        recipe = self._recipe(sha)
        if recipe is None:
            return None
        self._clean = sha
        self.save_canvas()
        parents = (self.base.id,) if self.base is not None else ()
        return self.session.commit(RenderRequest(kind="paint", recipes=(recipe,), parents=parents))

    def regenerate_in_mask(self) -> JobHandle | None:
        """Render the prompt (and seed) anew only inside the painted mask, over the base image."""
        if self.base is None or not self.canvas.has_mask():
            self.session.notify("Paint a mask first (M), then regenerate inside it.")
            return None
        project = self.session.project
        sketch = project.assets.put(self.canvas.sketch_png(), "png")
        mask = project.assets.put(self.canvas.mask_png(), "png")
        recipe = self._recipe(sketch).replace(
            seed=self.prompt.seed_value(),
            mask=mask,
            extra={**self.base.recipe.extra, "base_image": self.base.image},
        )
        return self.session.commit(RenderRequest(kind="masked", recipes=(recipe,), parents=(self.base.id,)))

    # --- segmentation ---------------------------------------------------------------------------
    def sketch_from_image(self) -> JobHandle | None:
        """Derive the sketch from the node's picture with the segmenter (in the worker); a newer
        request (another node shown) replaces it."""
        if self.base is None:
            return None
        png = self.session.project.assets.get(self.base.image)
        before = _sha(self.canvas.sketch_png())
        return self.session.submit(
            Job(run=lambda pipe, _p, _g: _segment(pipe, png), lane="segment", queued=False),
            on_done=lambda labels: self._segmented(labels, before),
        )

    def _segmented(self, labels: np.ndarray, before: str) -> None:
        if _sha(self.canvas.sketch_png()) != before:
            return  # the artist painted while it ran: their strokes win
        self.canvas.set_sketch(labels)
        self._mark_clean()
        self.save_canvas()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _segment(pipe, png: bytes) -> np.ndarray:
    """The segmenter's label map of a picture; refused with a message when none is installed."""
    from studio.inference.segmenter import Segmenter

    info = pipe.default_generator()
    seg_info = pipe.registry.segmenter_for(info)
    if seg_info is None:
        raise JobError(
            "No segmenter is installed, so the sketch cannot be derived from the picture; paint it instead."
        )
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return Segmenter(pipe.engine, seg_info).segment([pixels])[0]
