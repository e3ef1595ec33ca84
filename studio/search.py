"""Search a project by meaning: rank nodes by how close what they show is to a text or a sound.

With an image encoder of the query's embedding space installed, a node's vector is the encoder's
reading of its stored picture: the search then finds what the image actually *shows* (a prompt
asking for snow that rendered green still is not snowy), and imported pictures are searchable too.
Without one, it falls back to the vector the node was rendered from (its prompt's embedding, moved
toward its sound by the edit strength, or an explicit embedding): what the picture was *made* to
show. A text query or a dropped sound is embedded in the same space and nodes are ranked by cosine.
Vectors are cached per image / recipe, so repeated searches are cheap.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np
from PIL import Image

from studio.inference.attributes import RECIPE_KEY as ATTRIBUTES_KEY
from studio.inference.attributes import attributes_for_prompt
from studio.inference.image_encoder import ImageEncoder, image_encoder_for
from studio.inference.manifest import ModelError
from studio.inference.pipeline import AssetSource, Pipeline, PipelineError
from studio.project.node import Node
from studio.recipe import Recipe

log = logging.getLogger(__name__)


class NodeIndex:
    """Vectors of a project's nodes (from their pictures, else their conditioning), computed on demand."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self._vectors: dict[str, np.ndarray] = {}
        self._image_vectors: dict[str, np.ndarray | None] = {}
        self._image_encoder: ImageEncoder | None | bool = False  # False: not looked up yet

    def image_encoder(self) -> ImageEncoder | None:
        """The installed image encoder of the default generator's space, or None (conditioning is used)."""
        if self._image_encoder is False:
            try:
                space = self.pipe.default_generator().embedding_space
                info = image_encoder_for(self.pipe.registry.models(), space)
                self._image_encoder = ImageEncoder(self.pipe.engine, info)
            except (ModelError, PipelineError) as exc:
                log.info("search ranks by conditioning: %s", exc)
                self._image_encoder = None
        return self._image_encoder or None

    def image_vectors(self, nodes: Sequence[Node], assets: AssetSource | None) -> dict[str, np.ndarray]:
        """{image sha: unit vector} for the nodes whose picture can be read; one batched encoder run."""
        encoder = self.image_encoder()
        if encoder is None or assets is None:
            return {}
        todo = sorted({n.image for n in nodes if n.image not in self._image_vectors})
        pictures = {}
        for sha in todo:
            try:
                with Image.open(io.BytesIO(assets.get(sha))) as picture:
                    pictures[sha] = np.asarray(picture.convert("RGB"))
            except (LookupError, OSError, ValueError) as exc:  # missing or damaged asset: use conditioning
                log.warning("search cannot read picture %s: %s", sha[:12], exc)
                self._image_vectors[sha] = None
        if pictures:
            for sha, vector in zip(pictures, encoder.embed(list(pictures.values())), strict=True):
                self._image_vectors[sha] = vector
        return {n.image: v for n in nodes if (v := self._image_vectors.get(n.image)) is not None}

    def vector(self, recipe: Recipe, assets: AssetSource | None) -> np.ndarray | None:
        """The unit vector the recipe renders with; None when it cannot be known (missing model)."""
        key = recipe.to_json()
        if key not in self._vectors:
            try:
                self._vectors[key] = self._compute(recipe, assets)
            except (PipelineError, LookupError, ValueError):
                return None
        return self._vectors[key]

    def _compute(self, recipe: Recipe, assets: AssetSource | None) -> np.ndarray:
        vector = self.pipe.recipe_conditioning(recipe, assets)
        return vector / max(float(np.linalg.norm(vector)), 1e-8)

    def rank(
        self,
        nodes: Sequence[Node],
        query: np.ndarray,
        assets: AssetSource | None,
        limit: int = 9,
        words: str = "",
    ) -> list[tuple[str, float]]:
        """(node id, score) of the best `limit` nodes, best first.

        A node's score is the mean cosine of what its picture shows (image encoder, when
        installed) and what it was made to show (its conditioning; imported pictures have none),
        plus ATTRIBUTE_BONUS per scene attribute (time, weather, season) a text query's `words`
        name that the node's recipe also has, minus it per one it contradicts: the small image
        encoder alone ranks a grey stormy sea close to "sunny beach" (sand and water)."""
        query = np.asarray(query, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-8)
        by_image = self.image_vectors(nodes, assets)
        wanted = {g: v for g, v in attributes_for_prompt(words).items() if v is not None}
        scored = []
        for node in nodes:
            readings = [by_image.get(node.image)]
            if not node.recipe.extra.get("imported"):
                readings.append(self.vector(node.recipe, assets))
            cosines = [float(v @ query) for v in readings if v is not None and v.shape == query.shape]
            if cosines:
                scored.append((node.id, float(np.mean(cosines)) + _agreement(wanted, node.recipe)))
        return sorted(scored, key=lambda row: -row[1])[:limit]


ATTRIBUTE_BONUS = 0.1


def _agreement(wanted: dict[str, str], recipe: Recipe) -> float:
    """+bonus per attribute the query names and the recipe shares, −bonus per one it contradicts."""
    if not wanted:
        return 0.0
    stored = recipe.extra.get(ATTRIBUTES_KEY)
    has = stored if isinstance(stored, dict) else attributes_for_prompt(recipe.prompt)
    score = sum((1 if has.get(g) == v else -1) for g, v in wanted.items() if has.get(g) is not None)
    return ATTRIBUTE_BONUS * score


def text_query(pipe: Pipeline, text: str) -> np.ndarray:
    return pipe.encode_text(pipe.default_generator(), [text])[0]


def sound_query(pipe: Pipeline, samples: np.ndarray) -> np.ndarray:
    return pipe.encode_sound(pipe.default_generator(), samples)
