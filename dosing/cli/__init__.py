"""The ``factordose`` command line: one module per command, text rendering beside them.

:func:`main` (in :mod:`dosing.cli.main`) parses the arguments and runs a
command; :class:`~dosing.cli.report.Report` owns the exit codes.
"""

from dosing.cli.main import main

__all__ = ["main"]
