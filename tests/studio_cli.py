"""Run `studio …` as a user does: a fresh Python process with its own home folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studio.paths import REPO_ROOT


def run_studio(
    *args: str | Path, home: Path, cwd: Path | None = None, models: Path | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """`models`: the SYNESTHESIA_MODELS folder (None: the shipped models, as a fresh install sees)."""
    env = {**os.environ, "SYNESTHESIA_HOME": str(home)}
    env.pop("SYNESTHESIA_MODELS", None)
    if models is not None:
        env["SYNESTHESIA_MODELS"] = str(models)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
