"""A contact sheet of a branch: the node and its descendants as captioned thumbnails on one PNG."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from studio.project.store import Node, Project

MAX_CELLS = 400  # a 20×20 sheet; bigger branches are cut (the caption says so)


def branch(project: Project, root_id: str) -> list[Node]:
    """The node and every live descendant, depth first, in creation order among siblings."""
    live = {n.id for n in project.nodes()}
    order: list[Node] = []
    todo = [root_id]
    while todo:
        node_id = todo.pop()
        if node_id not in live or any(n.id == node_id for n in order):
            continue
        order.append(project.node(node_id))
        todo.extend(reversed([c.id for c in project.children(node_id)]))
    return order


def contact_sheet(project: Project, nodes: list[Node], cell: int = 128, columns: int = 6) -> bytes:
    """PNG bytes: one cell per node (its stored image), captioned with kind, seed and prompt."""
    shown = nodes[:MAX_CELLS]
    rows = max(1, -(-len(shown) // columns))
    caption = 28
    sheet = Image.new("RGB", (columns * cell, rows * (cell + caption) + 20), (24, 26, 30))
    draw = ImageDraw.Draw(sheet)
    for i, node in enumerate(shown):
        x, y = (i % columns) * cell, (i // columns) * (cell + caption)
        with Image.open(io.BytesIO(project.assets.get(node.image))) as image:
            sheet.paste(image.convert("RGB").resize((cell, cell), Image.Resampling.LANCZOS), (x, y))
        text = f"{node.kind} · seed {node.recipe.seed}"
        draw.text((x + 4, y + cell + 2), text, fill=(220, 220, 220))
        draw.text((x + 4, y + cell + 14), (node.recipe.prompt or "(anything)")[:22], fill=(150, 156, 166))
    if len(nodes) > len(shown):
        draw.text((4, sheet.height - 16), f"… and {len(nodes) - len(shown)} more", fill=(220, 180, 90))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
