"""Where things live: shipped models beside the code, user data under XDG folders."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shipped_models_dir() -> Path:
    """The models that ship with the app (overridable for tests and bundles)."""
    return Path(os.environ.get("SYNESTHESIA_MODELS", REPO_ROOT / "exported_models"))


def data_home() -> Path:
    """Per-user data: user models, default projects, recent list."""
    base = os.environ.get("SYNESTHESIA_HOME")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "synesthesia-studio"


def user_models_dir() -> Path:
    return data_home() / "models"


def settings_file() -> Path:
    return data_home() / "settings.json"
