"""Shared fixtures: tiny contract-following models on real onnxruntime sessions, a pipeline, a project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from studio.inference.pipeline import Pipeline
    from studio.project.store import Project

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # UI tests run headless


@pytest.fixture(scope="session", autouse=True)
def synesthesia_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never touch the real user folders (user models, settings, hash cache)."""
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("SYNESTHESIA_HOME")
    os.environ["SYNESTHESIA_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("SYNESTHESIA_HOME", None)
    else:
        os.environ["SYNESTHESIA_HOME"] = old


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """text encoder (the shipped one when exported, else a tiny one) + tiny-gen (R=16) + tiny-up (x2)."""
    from tiny_models import build_models_dir

    return build_models_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def attribute_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models_dir set plus tiny-attr 2.0, a tiny generator with the scene-attribute and noise
    inputs (the newest generator, so the default)."""
    pytest.importorskip("torch")  # the tiny attribute generator is exported with torch
    from tiny_models import build_generator, build_models_dir

    folder = build_models_dir(tmp_path_factory.mktemp("attr-models"))
    build_generator(folder, name="tiny-attr", version="2.0", attributes=True)
    return folder


@pytest.fixture(scope="session")
def pipeline(models_dir: Path) -> Pipeline:
    """A CPU Pipeline on the tiny models, shared across tests (sessions are slow to create)."""
    from studio.inference.pipeline import Pipeline
    from studio.inference.registry import ModelRegistry

    return Pipeline(ModelRegistry([models_dir]), device="cpu")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh Project in tmp_path/project (skipped until studio.project.store exists)."""
    try:
        from studio.project.store import Project
    except ImportError as exc:
        pytest.skip(f"studio.project.store is not available yet: {exc}")
    proj = Project.open(tmp_path / "project")
    yield proj
    proj.close()
