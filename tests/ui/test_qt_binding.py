"""The Qt binding itself: PySide6 6.12.0 on Python 3.11 released None once per void call and
aborted the app after a few ten thousand calls (pyproject pins below 6.12). A long session makes
that many calls, so the pin is guarded by running that many in a child process."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget()
for _ in range(200_000):
    w.setEnabled(True)
print("ok")
"""


def test_many_void_calls_do_not_abort_the_process() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-c", SCRIPT]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "ok"
