"""Search a project by meaning: rank nodes by how close their conditioning is to a text or a sound.

Every node was rendered from one vector in the shared text/sound space (its prompt's embedding,
moved toward its sound by the edit strength, or an explicit embedding), so that vector says what
the picture was made to show. A text query or a dropped sound is embedded in the same space and
nodes are ranked by cosine. Node vectors are cached per recipe, so repeated searches are cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studio.inference.audio_encoder import blend_toward
from studio.inference.pipeline import AssetSource, Pipeline, PipelineError
from studio.project.node import Node
from studio.recipe import Recipe


class NodeIndex:
    """Conditioning vectors of a project's nodes, computed on demand and kept."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self._vectors: dict[str, np.ndarray] = {}

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
        explicit = recipe.extra.get("text_embedding")
        if isinstance(explicit, list) and explicit:
            vector = np.asarray(explicit, dtype=np.float32)
            return vector / max(float(np.linalg.norm(vector)), 1e-8)
        info = self.pipe.registry.get(recipe.model)
        vector = self.pipe.encode_text(info, [recipe.prompt])[0]
        if recipe.sound is not None and recipe.strength != 0 and assets is not None:
            from studio.audio.io import read_audio

            audio = read_audio(assets.get(recipe.sound), rate=self.pipe.sound_rate(info))
            vector = blend_toward(vector, self.pipe.encode_sound(info, audio.samples), recipe.strength)
        return vector

    def rank(
        self, nodes: Sequence[Node], query: np.ndarray, assets: AssetSource | None, limit: int = 9
    ) -> list[tuple[str, float]]:
        """(node id, cosine) of the best `limit` nodes, best first; imported pictures are skipped."""
        query = np.asarray(query, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-8)
        scored = []
        for node in nodes:
            if node.recipe.extra.get("imported"):
                continue
            vector = self.vector(node.recipe, assets)
            if vector is not None and vector.shape == query.shape:
                scored.append((node.id, float(vector @ query)))
        return sorted(scored, key=lambda row: -row[1])[:limit]


def text_query(pipe: Pipeline, text: str) -> np.ndarray:
    return pipe.encode_text(pipe.default_generator(), [text])[0]


def sound_query(pipe: Pipeline, samples: np.ndarray) -> np.ndarray:
    return pipe.encode_sound(pipe.default_generator(), samples)
