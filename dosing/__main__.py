"""``python -m dosing``: the same program as the ``factordose`` command."""

import sys

from dosing.cli import main

sys.exit(main())
