"""UI fixtures: a main window on a fresh project with the tiny real models, models already loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_helpers import LOAD_MS

from studio.project.store import Project
from ui.main_window import MainWindow
from ui.settings import Settings


@pytest.fixture
def studio_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models_dir: Path) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(models_dir))
    monkeypatch.setenv("SYNESTHESIA_HOME", str(home))
    return home


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return tmp_path / "project"


@pytest.fixture
def window(qtbot, studio_env: Path, project_dir: Path) -> Iterator[MainWindow]:
    win = MainWindow(Project.open(project_dir), Settings(count=4, size=64))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.models_ready, timeout=LOAD_MS):
        win.show()
    yield win
    win.close()
