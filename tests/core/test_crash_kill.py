"""Kill a process that is really generating into a project, 50 times at random moments (SIGKILL).

After every kill the project must open (no stale lock), SQLite must pass its integrity check,
and every node, star and note the child had reported as committed must be there, with its image
readable and its recipe intact. One project folder is reused so it grows and recovery runs on a
real history. Kill times come from a seeded rng, so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from sqlite_checks import integrity

from studio.inference.pipeline import Pipeline
from studio.pngmeta import read_pixels, read_recipe
from studio.project.store import Project
from studio.recipe import Recipe

REPO = Path(__file__).resolve().parents[2]
KILLS = 50
EARLY_EVERY = 5  # every 5th kill lands at startup: imports, opening, recovery, the first render
SEED = 20240607

CHILD = r"""
import itertools, sys
from pathlib import Path
from studio.inference.pipeline import Pipeline
from studio.inference.registry import ModelRegistry
from studio.pngmeta import encode_png
from studio.project.store import Project

models, folder, run = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
prompts = ["a misty lake under snowy mountains at dawn", "a stormy sea at night", "green hills, sunset"]
project = Project.open(folder)
pipe = Pipeline(ModelRegistry([models]), device="cpu")
nodes = project.nodes()
parent = [nodes[-1].id] if nodes else []
for i in itertools.count():
    (recipe,) = pipe.recipes_for(prompts[i % 3], seed=run * 1000 + i, count=1, size=(16, 32)[i % 2])
    (image,) = pipe.render([recipe])
    png = encode_png(image, recipe)
    node = project.add_node(kind="generate", recipe=recipe, image_png=png, parents=parent)
    print("node", node.id, recipe.to_json(), flush=True)
    if i % 4 == 1:
        project.set_starred(node.id, True)
        print("star", node.id, flush=True)
    if i % 5 == 2:
        project.set_note(node.id, f"run {run} step {i}")
        print("note", node.id, f"run {run} step {i}", flush=True)
    if i % 3:
        parent = [node.id]  # else the next node branches off the same parent
"""


@dataclass
class Reported:
    """What the children said was committed: node id → recipe JSON, starred ids, notes."""

    recipes: dict[str, str] = field(default_factory=dict)
    starred: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, lines: str) -> list[str]:
        """Record complete lines (a line cut by the kill was never fully reported); new node ids."""
        new: list[str] = []
        for line in lines.splitlines(keepends=True):
            if not line.endswith("\n"):
                continue
            what, node_id, rest = (line.rstrip("\n").split(" ", 2) + [""])[:3]
            if what == "node":
                self.recipes[node_id] = rest
                new.append(node_id)
            elif what == "star":
                self.starred.add(node_id)
            elif what == "note":
                self.notes[node_id] = rest
        return new


def check_project(folder: Path, reported: Reported, fresh: list[str], full: bool) -> Project:
    """Open the project and check what was reported; `fresh` (or, with `full`, all) nodes in depth."""
    if (folder / "project.sqlite").exists():
        assert integrity(folder / "project.sqlite") == "ok"
    project = Project.open(folder)  # raises if the killed child's lock were still held
    try:
        assert not any("damaged" in line or "missing" in line for line in project.report), project.report
        for node_id, recipe_json in reported.recipes.items():
            node = project.node(node_id)
            assert node_id in project
            assert node.recipe == Recipe.from_json(recipe_json)
            # a kill between set_starred returning and the report leaves a star nobody was told of
            assert node_id not in reported.starred or node.starred
            assert node_id not in reported.notes or node.note == reported.notes[node_id]
            assert all(p in project for p in node.parents)
        for node_id in reported.recipes if full else fresh:
            node = project.node(node_id)
            png = project.assets.get(node.image)  # checks the bytes against the sha256 name
            assert read_recipe(png) == node.recipe
            assert read_pixels(png).shape == (node.recipe.size, node.recipe.size, 3)
    except BaseException:
        project.close()
        raise
    return project


def run_child(models: Path, folder: Path, run: int, rng: random.Random) -> tuple[str, str, int]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(models), str(folder), str(run)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = ""
    try:
        if run % EARLY_EVERY == 0:
            time.sleep(rng.uniform(0.0, 0.9))
        else:
            assert child.stdout is not None
            first = child.stdout.readline()  # the first committed node
            time.sleep(rng.uniform(0.0, 0.35))
    finally:
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
    return first + out, err, child.returncode


@pytest.mark.slow
def test_sigkill_while_generating_loses_no_committed_node(
    tmp_path: Path, models_dir: Path, pipeline: Pipeline
) -> None:
    folder = tmp_path / "project"
    rng = random.Random(SEED)
    reported = Reported()
    for run in range(KILLS):
        out, err, code = run_child(models_dir, folder, run, rng)
        assert code == -signal.SIGKILL, f"run {run}: the child stopped on its own ({code}):\n{err[-3000:]}"
        fresh = reported.add(out)
        if run % EARLY_EVERY:
            assert fresh, f"run {run}: a child killed after its first report reported nothing"
        check_project(folder, reported, fresh, full=False).close()
    assert len(reported.recipes) >= KILLS  # every late kill came after at least one commit

    with check_project(folder, reported, [], full=True) as project:
        sample = random.Random(SEED).sample(sorted(reported.recipes), 8)
        nodes = [project.node(node_id) for node_id in sample]
        images = pipeline.render([n.recipe for n in nodes], assets=project.assets)
        for node, image in zip(nodes, images, strict=True):  # pixels are a cache: recipes re-render them
            assert np.array_equal(read_pixels(project.assets.get(node.image)), image)
    assert integrity(folder / "project.sqlite") == "ok"
    assert list(folder.rglob(".tmp-*")) == []
