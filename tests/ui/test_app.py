"""The app entry point: screenshot mode (offscreen and on a real X server under Xvfb), lock message."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.paths import REPO_ROOT
from studio.project.store import Project
from ui.app import EXIT_LOCKED, main

APP_TIMEOUT_S = 300


def _run_app(project: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.app", "--project", str(project), "--screenshot", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT_S,
    )


def _assert_not_blank(png: Path) -> None:
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert pixels.std() > 5.0, "the screenshot is blank"


def _env(studio_env: Path, models_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SYNESTHESIA_MODELS": str(models_dir), "SYNESTHESIA_HOME": str(studio_env), **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    return env


def test_screenshot_offscreen(studio_env: Path, models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    result = _run_app(tmp_path / "proj", out, _env(studio_env, models_dir, QT_QPA_PLATFORM="offscreen"))
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_not_blank(out)
    with Project.open(tmp_path / "proj") as project:  # the app committed its nodes and let go of the lock
        assert len(project.nodes()) == 4


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A private X server on a free display number (Xvfb picks it and reports it via -displayfd)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb plus the Qt xcb libraries)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=[write_fd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        number = os.read(read_fd, 32).decode().strip() if ready else ""
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        os.close(read_fd)
        proc.terminate()
        proc.wait(timeout=30)


def test_screenshot_on_a_real_x_server(
    xvfb_display: str, studio_env: Path, models_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "xshot.png"
    env = _env(studio_env, models_dir, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb")
    result = _run_app(tmp_path / "proj", out, env)
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_not_blank(out)


def test_second_window_on_a_locked_project_exits_with_a_message(
    studio_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], qapp
) -> None:
    with Project.open(tmp_path / "busy"):
        code = main(["--project", str(tmp_path / "busy"), "--screenshot", str(tmp_path / "never.png")])
    assert code == EXIT_LOCKED
    assert "already open" in capsys.readouterr().err
    assert not (tmp_path / "never.png").exists()
