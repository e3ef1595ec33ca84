"""Node: one step in a project's history DAG."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from studio.project.assets import SHA_RE
from studio.recipe import Recipe, loads

NODE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DAMAGED_AFTER = 2.0**33  # a creation time after ~2242 is damage (1e20 would not even print as a date)
DAMAGED_AS = 2.0**32  # ~2106: what such a time reads as; nodes added after it still order, 1 µs apart


@dataclass(frozen=True)
class Node:
    """A committed history step: how the image was made (recipe) and the image itself (sha)."""

    id: str
    parents: tuple[str, ...]
    kind: str
    recipe: Recipe
    image: str
    created: float
    starred: bool = False
    note: str = ""

    @property
    def parent(self) -> str | None:
        """The first parent (the one a branch grew from), or None for a root."""
        return self.parents[0] if self.parents else None


def node_to_dict(node: Node, deleted: bool) -> dict[str, Any]:
    """The JSON form used by the journal files."""
    return {
        "id": node.id,
        "parents": list(node.parents),
        "kind": node.kind,
        "recipe": node.recipe.to_dict(),
        "image": node.image,
        "created": node.created,
        "starred": node.starred,
        "note": node.note,
        "deleted": deleted,
    }


def node_from_parts(
    id: Any, parents: Any, kind: Any, recipe: Any, image: Any, created: Any, starred: Any, note: Any
) -> Node:
    """Build a node from stored values, checking each so damage gives a reason, not a crash.

    `parents` may be a list or its JSON text, `recipe` a dict or its JSON text (database rows).
    Raises ValueError (RecipeError included) naming the bad field.
    """
    if not isinstance(id, str) or not NODE_ID_RE.match(id):
        raise ValueError(f"bad node id {id!r}")
    if isinstance(parents, str):
        parents = loads(parents)
    if not isinstance(parents, list | tuple) or not all(isinstance(p, str) for p in parents):
        raise ValueError("parents must be a list of node ids")
    if not isinstance(kind, str) or not kind:
        raise ValueError("kind must be a non-empty string")
    recipe_obj = Recipe.from_json(recipe) if isinstance(recipe, str | bytes) else Recipe.from_dict(recipe)
    if not isinstance(image, str) or not SHA_RE.match(image):
        raise ValueError(f"bad image id {image!r}")
    if isinstance(created, bool) or not isinstance(created, int | float):
        raise ValueError("created must be a finite number")
    if isinstance(created, int) and abs(created) > DAMAGED_AFTER:
        created = float(DAMAGED_AFTER + 1 if created > 0 else -1)  # 10**400 cannot even be a float
    if not math.isfinite(created):
        raise ValueError("created must be a finite number")
    if starred not in (0, 1):  # also accepts True/False
        raise ValueError("starred must be true or false")
    if not isinstance(note, str):
        raise ValueError("note must be a string")
    created = float(created) if 0.0 <= created <= DAMAGED_AFTER else (DAMAGED_AS if created > 0 else 0.0)
    return Node(id, tuple(parents), kind, recipe_obj, image, created, bool(starred), note)
