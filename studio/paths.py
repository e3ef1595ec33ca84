"""Where things live: shipped models beside the code or in a frozen bundle, user data under XDG folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def app_root() -> Path:
    """The folder that holds `exported_models/`: the checkout, or a PyInstaller bundle's data folder.

    A frozen app's modules live in an archive, so `__file__` says little; PyInstaller unpacks data
    to `sys._MEIPASS` (one-folder builds: `_internal/` beside the executable).
    """
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent))
    return REPO_ROOT


def shipped_models_dir() -> Path:
    """The models that ship with the app (overridable for tests and bundles)."""
    return Path(os.environ.get("SYNESTHESIA_MODELS", app_root() / "exported_models"))


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
