"""The `studio` console script: app for bare `studio`/app options, core CLI (without Qt) otherwise."""

from __future__ import annotations

import subprocess
import sys

from ui.launcher import wants_app


def test_routing():
    assert wants_app([]) and wants_app(["--project", "x"]) and wants_app(["--screenshot", "a.png"])
    assert not wants_app(["generate", "x"]) and not wants_app(["--help"]) and not wants_app(["--version"])


def test_cli_commands_do_not_load_qt():
    code = (
        "import sys\nfrom ui.launcher import main\n"
        "try:\n    main(['history', '--help'])\nexcept SystemExit:\n    pass\n"
        "print([m for m in sys.modules if m.startswith('PySide6')])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
