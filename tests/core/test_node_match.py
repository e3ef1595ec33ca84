"""Match scores of history nodes (issue 19): the shipped captioner describes each node's picture once,
the caption is kept in the real project database and reused after a reopen; nodes without a prompt
or with a damaged picture get no score; a hand-edited caption is not trusted; a read-only project
scores without keeping. `studio generate --match` and `studio history --match` as a user runs them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_cli import run_studio

from studio.describe.describe import Describer
from studio.describe.match import match_score
from studio.describe.node_match import MAX_CAPTION_CHARS, caption_key, match_nodes, stored_caption
from studio.inference.engine import Engine
from studio.inference.registry import ModelRegistry
from studio.paths import shipped_models_dir
from studio.project.store import Project
from studio.recipe import Recipe
from studio.world.scene import render_scenes

pytestmark = pytest.mark.skipif(
    not (shipped_models_dir() / "captioner64.json").is_file(), reason="no shipped captioner"
)


class CountingDescriber(Describer):
    """The real describer, counting the pictures it is asked to describe."""

    described = 0

    def describe(self, images, beam=1, classes=True):
        self.described += len(images)
        return super().describe(images, beam, classes)


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def describer() -> CountingDescriber:
    return CountingDescriber(ModelRegistry([shipped_models_dir()]), Engine("cpu"), segment=False)


@pytest.fixture
def project(tmp_path: Path):
    """Three held-out renders committed with their own captions as prompts, one without a prompt,
    and a fourth whose prompt asks for the opposite time of day."""
    scenes = render_scenes(3, seed=77, size=64, split="eval")
    with Project.open(tmp_path / "p") as project:
        nodes = [
            project.add_node(
                "generate", Recipe(model="m", model_version="1", prompt=caption, seed=i), _png(image)
            )
            for i, (image, caption) in enumerate(zip(scenes.images, scenes.captions, strict=True))
        ]
        nodes.append(
            project.add_node(
                "generate", Recipe(model="m", model_version="1", prompt="", seed=9), _png(scenes.images[0])
            )
        )
        yield project, nodes


def test_captions_are_made_once_kept_and_scored_against_each_prompt(describer, project, tmp_path) -> None:
    project, nodes = project
    start = describer.described
    found = match_nodes(describer, project, nodes)
    assert (
        describer.described - start == 3
    )  # three pictures: the prompt-less node shares one and is not asked
    assert set(found) == {n.id for n in nodes[:3]}
    for node in nodes[:3]:
        m = found[node.id]
        assert m.model == describer.model and m.caption == stored_caption(project, m.model, node.image)
        assert m.match == match_score(node.recipe.prompt, m.caption)
    # the captioner names the time of day of held-out renders: most of the prompts' times are shown
    assert (
        sum(
            m.match.groups.get("time", ("", ""))[0] == m.match.groups.get("time", ("", ""))[1]
            for m in found.values()
        )
        >= 2
    )
    project.close()
    with Project.open(tmp_path / "p") as again:  # reopened: the kept captions are used, nothing described
        before = describer.described
        assert match_nodes(describer, again, again.nodes()) == found
        assert describer.described == before


def test_a_damaged_picture_or_a_hand_edited_caption_gets_no_false_score(describer, project) -> None:
    project, nodes = project
    first, second = nodes[0], nodes[1]
    project.meta_set(caption_key(describer.model, first.image), {"not": "a caption"})
    project.meta_set(caption_key(describer.model, second.image), "x" * (MAX_CAPTION_CHARS + 1))
    assert stored_caption(project, describer.model, first.image) is None
    assert stored_caption(project, describer.model, second.image) is None
    project.assets.path(nodes[2].image).write_bytes(b"damaged")  # content no longer matches its name
    before = describer.described
    found = match_nodes(describer, project, nodes[:3])
    assert describer.described - before == 2 and set(found) == {first.id, second.id}  # re-described
    assert len(stored_caption(project, describer.model, second.image) or "") <= MAX_CAPTION_CHARS


def test_a_read_only_project_is_scored_but_keeps_nothing(describer, project, tmp_path) -> None:
    project, nodes = project
    project.close()
    with Project.open(tmp_path / "p", create=False, readonly=True) as readonly:
        found = match_nodes(describer, readonly, readonly.nodes())
        assert len(found) == 3
        assert all(stored_caption(readonly, describer.model, n.image) is None for n in nodes)


def test_stopping_early_describes_no_more(describer, project) -> None:
    project, nodes = project
    before = describer.described
    assert match_nodes(describer, project, nodes, lambda _done, _total: False) == {}
    assert describer.described == before


# ---------------------------------------------------------------- the CLI
def test_generate_and_history_print_the_match(tmp_path: Path) -> None:
    prompt = "a calm lake at night"
    home, project = tmp_path / "home", tmp_path / "p"
    made = run_studio(
        *("generate", prompt, "--count", "2", "--size", "128", "--device", "cpu"),
        *("--project", project, "--match"),
        home=home,
    )
    assert made.returncode == 0, made.stderr
    shows = [line for line in made.stdout.splitlines() if line.startswith("image ")]
    matches = [line.strip() for line in made.stdout.splitlines() if line.strip().startswith("match: ")]
    assert len(shows) == 2 and len(matches) == 2
    for show, match in zip(shows, matches, strict=True):
        caption = show.split("shows: ", 1)[1]
        assert match == f"match: {match_score(prompt, caption).summary()}"
    listed = run_studio("history", project, "--match", "--device", "cpu", home=home)
    assert listed.returncode == 0, listed.stderr
    assert "describing" not in listed.stderr  # generate --match kept the captions in the project
    rows = listed.stdout.splitlines()
    assert len(rows) == 2 and all("match " in row and prompt in row for row in rows)
    as_json = json.loads(run_studio("history", project, "--json", "--match", home=home).stdout)
    for node, show in zip(as_json, shows, strict=True):
        assert node["match"]["caption"] == show.split("shows: ", 1)[1]
        assert node["match"]["captioner"].startswith("captioner64") and 0 <= node["match"]["score"] <= 1
    plain = json.loads(run_studio("history", project, "--json", home=home).stdout)
    assert "match" not in plain[0]  # without --match nothing is described
