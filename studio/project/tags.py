"""Tags on history nodes, kept in project meta as JSON `{node_id: [tag, ...]}`.

The node schema has no tag column, and tags are a small, UI-level annotation, so they live in
the project's meta table (saved in one transaction) instead of a schema migration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from studio.project.errors import ProjectError
from studio.project.store import Project

log = logging.getLogger(__name__)

TAGS_META_KEY = "history.tags"
MAX_TAG_CHARS = 40
MAX_TAGS_PER_NODE = 32


class TagError(ProjectError):
    """A tag list was refused: the message says which tag and why."""


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Tags as stored: stripped, without a leading '#', lower case, unique, in the order given.

    Raises TagError for a bare string (it would become one tag per letter), non-text, empty
    tags, whitespace inside a tag (search reads "#tag" words), or too many / too long tags.
    """
    if isinstance(tags, str | bytes) or not isinstance(tags, Iterable):
        raise TagError(f"tags must be a list of words, not {type(tags).__name__}")
    result: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise TagError(f"a tag must be text, not {type(raw).__name__}")
        tag = raw.strip().lstrip("#").lower()
        if not tag:
            raise TagError(f"the tag {raw!r} is empty")
        if any(ch.isspace() for ch in tag) or not tag.isprintable():
            raise TagError(f"the tag {raw!r} must be one word without spaces or control characters")
        if len(tag) > MAX_TAG_CHARS:
            raise TagError(f"the tag {_short(raw)!r} is longer than {MAX_TAG_CHARS} characters")
        if tag not in result:
            result.append(tag)
    if len(result) > MAX_TAGS_PER_NODE:
        raise TagError(f"a node can have at most {MAX_TAGS_PER_NODE} tags, not {len(result)}")
    return result


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"


def load_tags(project: Project) -> dict[str, list[str]]:
    """All tags by node id (trashed nodes keep theirs, so a restore brings them back).

    Unreadable entries are skipped with a warning rather than failing the whole project.
    """
    stored: Any = project.meta_get(TAGS_META_KEY, {})
    if not isinstance(stored, dict):
        log.warning("project meta %r is not an object; ignoring the stored tags", TAGS_META_KEY)
        return {}
    tags: dict[str, list[str]] = {}
    for node_id, values in stored.items():
        try:
            clean = normalize_tags(values)
        except TagError as exc:
            log.warning("ignoring the stored tags of node %s: %s", node_id, exc)
            continue
        if clean:
            tags[node_id] = clean
    return tags


def get_tags(project: Project, node_id: str) -> list[str]:
    return load_tags(project).get(node_id, [])


def set_tags(project: Project, node_id: str, tags: Iterable[str]) -> list[str]:
    """Replace the tags of one node (an empty list removes them); returns what was stored.

    Raises NodeNotFoundError for an unknown node and TagError for bad tags; nothing is changed then.
    """
    project.node(node_id)
    clean = normalize_tags(tags)
    all_tags = load_tags(project)
    if clean:
        all_tags[node_id] = clean
    else:
        all_tags.pop(node_id, None)
    project.meta_set(TAGS_META_KEY, all_tags)
    return clean


def parse_tags(text: str) -> list[str]:
    """Tags typed in one line, separated by commas or spaces ("rain, #dawn keep")."""
    return normalize_tags(word for word in text.replace(",", " ").split())
