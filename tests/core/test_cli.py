"""`studio …` as a user runs it: real subprocesses on the tiny models, real PNGs and projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.paths import REPO_ROOT
from studio.pngmeta import read_pixels, read_recipe

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def studio(models_dir: Path, tmp_path: Path) -> Runner:
    env = {**os.environ, "SYNESTHESIA_MODELS": str(models_dir), "SYNESTHESIA_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "studio.cli", *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


def assert_clean_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and text in lines[0], result.stderr


def test_generate_writes_png_with_recipe(studio: Runner, tmp_path: Path) -> None:
    result = studio(
        "generate", "a misty lake", "--seed", "5", "--size", "48", "-o", "lake.png", "--device", "cpu"
    )
    assert result.returncode == 0, result.stderr
    recipe = read_recipe(tmp_path / "lake.png")
    assert (recipe.prompt, recipe.seed, recipe.size, recipe.model) == ("a misty lake", 5, 48, "tiny-gen")
    assert read_pixels(tmp_path / "lake.png").shape == (48, 48, 3)
    assert "CPUExecutionProvider" in result.stdout


def test_generate_count_numbers_the_files(studio: Runner, tmp_path: Path) -> None:
    result = studio("generate", "dunes", "--count", "3", "--size", "16", "-o", "out.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    seeds = [read_recipe(tmp_path / f"out-{i}.png").seed for i in range(3)]
    assert seeds == [1, 2, 3]
    assert not (tmp_path / "out.png").exists()


def test_project_history_and_bit_exact_render(studio: Runner, tmp_path: Path) -> None:
    made = studio(
        "generate", "a stormy sea", "--count", "2", "--size", "32", "--project", "proj", "--device", "cpu"
    )
    assert made.returncode == 0, made.stderr
    history = studio("history", "proj", "--json")
    assert history.returncode == 0, history.stderr
    nodes = json.loads(history.stdout)
    assert [n["kind"] for n in nodes] == ["generate", "generate"]
    assert [n["recipe"]["seed"] for n in nodes] == [1, 2]
    assert all(n["parent"] is None and n["recipe"]["prompt"] == "a stormy sea" for n in nodes)
    table = studio("history", "proj")
    assert table.returncode == 0 and nodes[0]["id"] in table.stdout and "a stormy sea" in table.stdout

    rendered = studio("render", "proj", nodes[1]["id"][:8], "-o", "again.png", "--device", "cpu")
    assert rendered.returncode == 0, rendered.stderr
    assert "pixels identical" in rendered.stdout
    assert read_recipe(tmp_path / "again.png").seed == 2
    stored = next((tmp_path / "proj").rglob(f"{nodes[1]['image']}*"))
    assert np.array_equal(read_pixels(stored), read_pixels(tmp_path / "again.png"))


def test_recipe_command(studio: Runner, tmp_path: Path) -> None:
    assert (
        studio("generate", "snow", "--size", "16", "-o", "s.png", "--private", "--device", "cpu").returncode
        == 0
    )
    result = studio("recipe", "s.png")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["prompt"] == "" and data["extra"] == {"private": True} and data["seed"] == 1


def test_models_command(studio: Runner) -> None:
    result = studio("models", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "tiny-gen" in result.stdout and "generator" in result.stdout and " ok" in result.stdout
    assert "provider: CPUExecutionProvider" in result.stdout


def test_models_shows_problems(studio: Runner, tmp_path: Path) -> None:
    user = tmp_path / "home" / "models"
    user.mkdir(parents=True)
    (user / "broken.json").write_text('{"kind": "generator"}')
    result = studio("models", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "problem: broken.json: field 'name' is missing" in result.stdout
    assert any(line.split()[:2] == ["broken", "generator"] for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("generate", "x", "--model", "nope", "--device", "cpu"), "no model named 'nope'"),
        (("recipe", "missing.png"), "missing.png does not exist"),
        (
            ("generate", "x", "--size", "8", "--device", "cpu"),
            "recipe.size must be an integer from 16 to 4096",
        ),
        (("generate", "x", "--size", "16", "-o", ".", "--device", "cpu"), "cannot write"),
        (("history", "nowhere"), "there is no project"),
        (("render", "nowhere", "abc", "-o", "x.png"), "there is no project"),
    ],
)
def test_errors_are_one_line_and_exit_2(studio: Runner, args: tuple[str, ...], message: str) -> None:
    assert_clean_error(studio(*args), message)


def test_recipe_of_a_png_without_one(studio: Runner, tmp_path: Path) -> None:
    from studio.pngmeta import encode_png

    (tmp_path / "plain.png").write_bytes(encode_png(np.zeros((4, 4, 3), np.uint8)))
    assert_clean_error(studio("recipe", "plain.png"), "has no Synesthesia recipe")


def test_render_unknown_node(studio: Runner) -> None:
    assert studio("generate", "x", "--size", "16", "--project", "p", "--device", "cpu").returncode == 0
    assert_clean_error(studio("render", "p", "zzzz", "-o", "x.png"), "there is no node 'zzzz'")


def test_usage_errors_exit_2(studio: Runner) -> None:
    result = studio("generate", "x", "--count", "0")
    assert result.returncode == 2 and "must be at least 1" in result.stderr
    assert studio("frobnicate").returncode == 2
    help_text = studio("--help")
    assert help_text.returncode == 0 and "generate" in help_text.stdout and "history" in help_text.stdout
