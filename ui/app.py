"""Entry point of the desktop app: `python -m ui.app` or `studio` with no arguments."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.paths import data_home
from studio.project.store import Project, ProjectError, ProjectLockedError
from ui.main_window import MainWindow
from ui.settings import DEVICES, Settings
from ui.theme import apply_dark_theme

log = logging.getLogger(__name__)

SCREENSHOT_TIMEOUT_MS = 180_000
MATCH_WAIT_MS = 10_000  # a screenshot waits this long for the results' match scores
EXIT_ERROR, EXIT_LOCKED, EXIT_TIMEOUT = 1, 2, 3


def default_project() -> Path:
    return data_home() / "projects" / "Untitled"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="synesthesia-studio", description="Synesthesia Studio desktop app")
    parser.add_argument("--project", type=Path, help="project folder to open (created if missing)")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="generate the example prompt once, save the window to OUT.png and quit",
    )
    parser.add_argument("--device", choices=DEVICES, help="compute device for this run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Synesthesia Studio")
    app.setOrganizationName("Synesthesia")
    apply_dark_theme(app)
    headless = args.screenshot is not None or os.environ.get("QT_QPA_PLATFORM") == "offscreen"
    settings = Settings.load()
    folder = args.project or (Path(settings.last_project) if settings.last_project else default_project())
    try:
        project = Project.open(folder)
    except ProjectLockedError as exc:
        _report(headless, "Project in use", str(exc))
        return EXIT_LOCKED
    except (ProjectError, OSError) as exc:
        _report(headless, "Cannot open project", f"{folder}: {exc}")
        return EXIT_ERROR
    window = MainWindow(project, settings, device=args.device)
    window.show()
    if args.screenshot is not None:
        _arm_screenshot(app, window, args.screenshot)
    return app.exec()


def _report(headless: bool, title: str, text: str) -> None:
    """A clear message: a box for people, stderr when nobody can click a box."""
    if headless:
        print(f"{title}: {text}", file=sys.stderr)
    else:
        QMessageBox.critical(None, title, text)


def _arm_screenshot(app: QApplication, window: MainWindow, out: Path) -> None:
    """Generate the example prompt once the models are ready, grab the window when results show
    with their match scores (or after MATCH_WAIT_MS without them)."""

    def grab_and_quit(code: int) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(out), "PNG")
        window.close()
        app.exit(code if ok else EXIT_ERROR)

    def on_ready(_info: object) -> None:
        window.prompt_panel.set_recipe(window.example_prompt(), window.prompt_panel.seed_value())
        window.generate()

    def when_scored(waited_ms: int = 0) -> None:
        if window.matches.pending() and waited_ms < MATCH_WAIT_MS:
            QTimer.singleShot(100, lambda: when_scored(waited_ms + 100))
        else:
            QTimer.singleShot(400, lambda: grab_and_quit(0))

    window.models_ready.connect(on_ready)
    window.batch_shown.connect(lambda _ids: QTimer.singleShot(100, when_scored))
    window.message_shown.connect(lambda _text: QTimer.singleShot(400, lambda: grab_and_quit(EXIT_ERROR)))
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: grab_and_quit(EXIT_TIMEOUT))


if __name__ == "__main__":
    sys.exit(main())
