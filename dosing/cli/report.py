"""Exit codes, owned by one object (docs/design.md "Exit codes").

0 success; 1 a valid request with a negative answer (no feasible plan,
claims with error findings, a supply with a dose not met); 2 invalid input or
usage, with one line on stderr naming the field, what was expected and what
was given.  Nothing below :func:`dosing.cli.main.main` calls ``sys.exit``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import TextIO

__all__ = ["Exit", "Report", "UsageError"]


class Exit(IntEnum):
    OK = 0
    NEGATIVE = 1  # a valid request with a negative answer
    INVALID = 2  # invalid input or usage


@dataclass
class Report:
    """Keeps the worst outcome seen; its ``code`` is the process's exit code."""

    code: Exit = Exit.OK
    err: TextIO = sys.stderr

    def saw(self, outcome: Exit) -> None:
        self.code = max(self.code, outcome)

    def invalid(self, message: str) -> None:
        """One line on stderr, exit 2."""
        print(f"factordose: error: {message}", file=self.err)
        self.saw(Exit.INVALID)


class UsageError(Exception):
    """A command line that cannot be run; reported as one line, exit 2."""
