"""Names the save dialogs suggest: what the artist recognises (the prompt's first words and the
seed), never a hash."""

from __future__ import annotations

import re

from studio.project.store import Node


def export_name(node: Node, suffix: str = ".png") -> str:
    words = re.findall(r"[a-z0-9]+", node.recipe.prompt.lower())[:6]
    return f"{'-'.join(words) or 'landscape'}-seed{node.recipe.seed}{suffix}"
