"""`python -m studio.cli …`: the same commands as the `studio` console script, without the app."""

import sys

from studio.cli import main

sys.exit(main())
