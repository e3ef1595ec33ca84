"""Settings file: defaults, validation of hand-edited values, atomic save, recent lists."""

from __future__ import annotations

import json
from pathlib import Path

from ui.settings import MAX_RECENT_PROJECTS, Settings


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert Settings.load(tmp_path / "none.json") == Settings()


def test_damaged_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert Settings.load(path) == Settings()
    path.write_text("[1, 2]")
    assert Settings.load(path) == Settings()


def test_bad_values_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"count": 99, "size": 100, "device": "tpu", "recent_prompts": ["a", 3], "x": 1})
    )
    s = Settings.load(path)
    assert (s.count, s.size, s.device, s.recent_prompts) == (9, 128, "auto", ["a"])


def test_round_trip_and_recent_lists(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "settings.json"
    s = Settings(count=6, privacy=True)
    for i in range(MAX_RECENT_PROJECTS + 3):
        s.remember_project(tmp_path / f"p{i}")
    s.remember_prompt("a lake")
    s.remember_prompt("a hill")
    s.remember_prompt("a lake")
    s.remember_prompt("   ")
    s.save(path)
    loaded = Settings.load(path)
    assert loaded == s
    assert loaded.recent_prompts == ["a lake", "a hill"]
    assert len(loaded.recent_projects) == MAX_RECENT_PROJECTS
    assert loaded.last_project == loaded.recent_projects[0]
