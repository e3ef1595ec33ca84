"""The core never imports Qt or the UI (napari's rule): the CLI and tools must run without a display."""

from __future__ import annotations

import re
import subprocess
import sys

from studio.paths import REPO_ROOT

STUDIO = REPO_ROOT / "studio"
FORBIDDEN = ("PySide6", "shiboken6", "superqt", "ui")
QT_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(PySide6|shiboken6|superqt|PyQt5|PyQt6|qtpy|ui)\b", re.MULTILINE
)


def studio_modules() -> list[str]:
    names = []
    for path in sorted(STUDIO.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_importing_every_studio_module_loads_no_qt() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {studio_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_qt_import_statements_in_studio_sources() -> None:
    """No Qt or ui import anywhere in studio/ (the app door is ui/launcher.py)."""
    offenders = []
    for path in sorted(STUDIO.rglob("*.py")):
        for match in QT_IMPORT.finditer(path.read_text(encoding="utf-8")):
            line = path.read_text(encoding="utf-8")[match.start() :].splitlines()[0].strip()
            offenders.append(f"{path.relative_to(REPO_ROOT)}: {line}")
    assert offenders == []


def test_cli_help_runs_without_qt() -> None:
    code = (
        "import sys\nfrom studio.cli import build_parser\nbuild_parser()\n"
        "print([m for m in sys.modules if m.startswith('PySide6')])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
