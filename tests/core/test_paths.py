"""Where the shipped models are found: in the checkout, and inside a frozen (PyInstaller) bundle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from studio import paths


@pytest.fixture
def no_models_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNESTHESIA_MODELS", raising=False)


def test_checkout_uses_the_repository_models(no_models_override: None) -> None:
    assert paths.app_root() == paths.REPO_ROOT
    assert paths.shipped_models_dir() == paths.REPO_ROOT / "exported_models"
    assert (paths.shipped_models_dir() / "text_minilm.json").is_file()


def test_frozen_bundle_uses_its_data_folder(
    no_models_override: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What PyInstaller's bootloader sets in a one-folder build: frozen, and _MEIPASS = <bundle>/_internal.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    assert paths.shipped_models_dir() == tmp_path / "_internal" / "exported_models"


def test_frozen_without_meipass_uses_the_executables_folder(
    no_models_override: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "studio"))
    assert paths.shipped_models_dir() == tmp_path / "exported_models"


def test_environment_overrides_the_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(tmp_path / "mine"))
    assert paths.shipped_models_dir() == tmp_path / "mine"


def test_user_data_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SYNESTHESIA_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.data_home() == tmp_path / "xdg" / "synesthesia-studio"
    assert paths.user_models_dir() == tmp_path / "xdg" / "synesthesia-studio" / "models"
    assert paths.settings_file() == tmp_path / "xdg" / "synesthesia-studio" / "settings.json"
