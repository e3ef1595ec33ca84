"""Match scores of history nodes: caption each node's picture once and keep the caption.

A caption depends only on the picture and the captioner, so it is kept in the project's meta table
under `caption/<captioner> <version>/<image id>`: a reopened project shows its scores without
describing again, nodes sharing a picture share one caption, and a newer captioner describes
afresh. The score itself (`match_score`) is cheap and is worked out from the node's prompt each
time. A node without a prompt, or whose picture cannot be read, has no score.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from studio.describe.describe import Describer, picture_from_bytes
from studio.describe.match import Match, match_score
from studio.image_input import ImageInputError
from studio.project.errors import ProjectError
from studio.project.store import Node, Project

log = logging.getLogger(__name__)

BEAM = 3  # as the Describe panel and `studio describe`: the same picture gets the same caption
MAX_CAPTION_CHARS = 400  # a stored caption longer than this was not written by a captioner
CHUNK = 4  # pictures described per call: small, so a render waiting behind it waits little


@dataclass(frozen=True)
class NodeMatch:
    """What a node's picture shows (`caption`) and how well that names what its prompt asked for."""

    caption: str
    match: Match
    model: str  # the captioner, "NAME VERSION"


def caption_key(model: str, image: str) -> str:
    return f"caption/{model}/{image}"


def stored_caption(project: Project, model: str, image: str) -> str | None:
    """A caption kept earlier, or None (never kept, or not a caption: a hand-edited database)."""
    value = project.meta_get(caption_key(model, image))
    if isinstance(value, str) and value.strip() and len(value) <= MAX_CAPTION_CHARS and value.isprintable():
        return value
    return None


def wants_match(node: Node) -> bool:
    """Only a prompt gives a caption something to match."""
    return bool(node.recipe.prompt.strip())


def match_nodes(
    describer: Describer,
    project: Project,
    nodes: Sequence[Node],
    keep_going: Callable[[int, int], bool] = lambda _done, _total: True,
) -> dict[str, NodeMatch]:
    """Each node with a prompt → its NodeMatch; captions not kept yet are made (a few at a time) and
    kept when the project is writable. `keep_going(done, total)` returning False stops early."""
    wanted = [n for n in nodes if wants_match(n)]
    captions: dict[str, str] = {}
    missing: list[str] = []
    for node in wanted:
        if node.image in captions or node.image in missing:
            continue
        kept = stored_caption(project, describer.model, node.image)
        if kept is None:
            missing.append(node.image)
        else:
            captions[node.image] = kept
    for start in range(0, len(missing), CHUNK):
        if not keep_going(start, len(missing)):
            break
        captions.update(_describe(describer, project, missing[start : start + CHUNK]))
    return {
        n.id: NodeMatch(captions[n.image], match_score(n.recipe.prompt, captions[n.image]), describer.model)
        for n in wanted
        if n.image in captions
    }


def _describe(describer: Describer, project: Project, images: list[str]) -> dict[str, str]:
    """Caption these pictures and keep the captions; a picture that cannot be read is left out."""
    pictures, ids = [], []
    for image in images:
        try:
            picture, _notes = picture_from_bytes(project.assets.get(image), "the node's picture")
        except (ProjectError, ImageInputError) as exc:
            log.warning("no match score for picture %s: %s", image, exc)
            continue
        pictures.append(picture)
        ids.append(image)
    if not pictures:
        return {}
    described = describer.describe(pictures, BEAM, classes=False)
    found = {i: d.caption for i, d in zip(ids, described, strict=True)}
    keep_captions(project, describer.model, found)
    return found


def keep_captions(project: Project, model: str, captions: dict[str, str]) -> None:
    """Keep captions (image id → caption by `model`) for the next match; a read-only project or a
    full disk loses only this cache, never a score shown now."""
    if project.readonly or not captions:
        return
    try:
        project.meta_set_many({caption_key(model, image): text for image, text in captions.items()})
    except ProjectError as exc:
        log.warning("captions not kept: %s", exc)
