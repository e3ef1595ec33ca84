"""History row labels that say what the artist did ("variation 0.3", "bred from 3").

A recipe diff is right for a compare table but wrong as a row's headline: a bred child read as
"latent jitter (Δ 2.99)", a variation as "custom latent", and a prompt edit began with the
parent's prompt cut off. Rows name the action by the node's kind, and fall back to the diff
(with a new prompt said as "new prompt": the row's second line shows it) for everything else.
"""

from __future__ import annotations

from dataclasses import replace

from studio.project.store import Node
from studio.recipe import Recipe
from studio.recipe_diff import change_label, diff_recipes, short_text
from studio.translate.runtime import RECIPE_KEY as TRANSLATE_KEY
from studio.translate.runtime import is_translation

VARIATION_KEY = "variation"  # recipe.extra: the strength a Vary child was made with
PROMPT_CHARS = 48


def translated_label(recipe: Recipe) -> str:
    """ "night (translated)" for a translation's recipe, "" for any other."""
    if not is_translation(recipe):
        return ""
    return f"{recipe.extra[TRANSLATE_KEY].get('to') or '?'} (translated)"


def action_label(node: Node, parent: Node) -> str:
    """What was done to `parent` to make `node`, in the artist's words."""
    kind = node.kind
    if kind == "vary":
        strength = node.recipe.extra.get(VARIATION_KEY)
        return f"variation {strength:.2g}" if isinstance(strength, int | float) else "variation"
    if kind == "breed":
        return f"bred from {len(node.parents)}"
    if kind == "interpolate":
        return f"in between {len(node.parents)}"
    if kind == "direction":
        return "moved along controls"
    if kind == "masked":
        return "regenerated in mask"
    if kind == "translate":
        return translated_label(node.recipe) or "translated"
    changes = [
        replace(c, summary="new prompt") if c.field == "prompt" else c
        for c in diff_recipes(parent.recipe, node.recipe)
    ]
    return change_label(changes)


def node_title(node: Node, parent: Node | None = None) -> str:
    """Two lines. A root: its prompt (a translated picture: what it became), then its seed. A child:
    what was done, then its own prompt."""
    star = "★ " if node.starred else ""
    prompt = short_text(node.recipe.prompt or "(anything)", PROMPT_CHARS)
    if parent is None:
        prompt = translated_label(node.recipe) or prompt
    kind = "" if node.kind == "generate" else f" · {node.kind}"
    note = f" · {node.note}" if node.note else ""
    if parent is None:
        return f"{star}{prompt}\nseed {node.recipe.seed}{kind}{note}"
    return f"{star}{action_label(node, parent)}\n{prompt}{kind}{note}"
