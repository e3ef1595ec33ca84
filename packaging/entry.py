"""PyInstaller entry point: the same dispatch as the `studio` console script (app or CLI)."""

import sys

from ui.launcher import main

if __name__ == "__main__":
    sys.exit(main())
