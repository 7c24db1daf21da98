"""Exit codes, owned by one object (docs/design.md "Exit codes").

0 success; 1 a valid request with a negative answer (no feasible plan,
claims with error findings, a supply with a dose not met); 2 invalid input or
usage, with one line on stderr naming the field, what was expected and what
was given; 3 an internal error (a bug: one line asking for a report, the
traceback only with ``--debug``); 130 and 143 when interrupted by SIGINT or
SIGTERM, after the answers already finished are written.  Nothing below
:func:`dosing.cli.main.main` calls ``sys.exit``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import IntEnum
from typing import TextIO

__all__ = ["Exit", "Interrupted", "Report", "UsageError"]


class Exit(IntEnum):
    OK = 0
    NEGATIVE = 1  # a valid request with a negative answer
    INVALID = 2  # invalid input or usage
    INTERNAL = 3  # a bug: an exception nothing expected
    LEDGER = 4  # the shelf's database is damaged or cannot be reached
    INTERRUPTED = 130  # SIGINT (128 + 2)
    TERMINATED = 143  # SIGTERM (128 + 15)


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

    def ledger(self, message: str) -> None:
        """One line on stderr, exit 4: the shelf's database is damaged or unreachable."""
        print(f"factordose: ledger error: {message}", file=self.err)
        self.saw(Exit.LEDGER)


class UsageError(Exception):
    """A command line that cannot be run; reported as one line, exit 2."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; ``code`` is the exit code it means.  A
    BaseException, so that no ``except Exception`` on the way up swallows it."""

    def __init__(self, code: Exit) -> None:
        super().__init__(code.name.lower())
        self.code = code
