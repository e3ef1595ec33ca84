"""The `studio` console script: bare `studio` (or app options) opens the desktop app, anything
else is a core command. It lives in ui/ so the core never reaches into the UI; Qt is imported
only on the app path, so `studio generate` and friends stay Qt-free."""

from __future__ import annotations

import sys

APP_EXCLUDED_OPTIONS = ("-h", "--help", "--version", "-v", "--verbose")


def wants_app(argv: list[str]) -> bool:
    return not argv or (argv[0].startswith("-") and argv[0] not in APP_EXCLUDED_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_app(argv):
        from ui.app import main as run_app

        return run_app(argv)
    from studio.cli import main as run_cli

    return run_cli(argv)


if __name__ == "__main__":
    sys.exit(main())
