"""The ``factordose`` entry point: the argument parser and the commands it runs.

Each command lives in its own module (``plan``, ``supply``, ``check``,
``units``), which adds its sub-parser and runs it; :class:`Report` owns the
exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn, TextIO

from sqlalchemy import exc as sa_exc

from dosing import __version__
from dosing.billing.codesets import SHIPPED_CODE_SETS
from dosing.cli import check, fhir, pk, plan, products, serve, shelf, supply, units
from dosing.cli.report import Exit, Interrupted, Report, UsageError
from dosing.errors import DosingError, LedgerError
from dosing.shelf.store import database_trouble
from optimizer.errors import OptimizerError, escape

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors become one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="factordose",
        description="Clotting-factor dose to billing units, vial selection and claim checks.",
    )
    parser.add_argument("--version", action="version", version=f"factordose {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on an internal error, print the traceback"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    code_set_help = (
        f"a shipped code set ({', '.join(SHIPPED_CODE_SETS)}; default spec) or a CSV path"
    )
    units.register(commands, code_set_help)
    plan.register(commands, code_set_help)
    check.register(commands)
    supply.register(commands, code_set_help)
    products.register(commands)
    shelf.register(commands)
    serve.register(commands)
    pk.register(commands)
    fhir.register(commands)
    return parser


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out = out or sys.stdout
    report = Report(err=err or sys.stderr)
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        with _signals():
            args = build_parser().parse_args(argv)
            args.run(args, out, report)
            out.flush()  # a full disk is found here, not after the exit code is set
    except UsageError as exc:
        report.invalid(str(exc))
    except LedgerError as exc:
        report.ledger(str(exc))
    except sa_exc.DBAPIError as exc:  # damage found by a query, or a server gone: not a bug
        report.ledger(
            f"the shelf's database cannot be read ({escape(database_trouble(exc))}): run "
            "factordose shelf check, and restore it from a backup if it is damaged"
        )
    except (DosingError, OptimizerError) as exc:
        report.invalid(str(exc))
    except Interrupted as exc:
        report.saw(exc.code)
    except BrokenPipeError:  # `factordose ... | head`: the exit code stands as seen
        sys.stderr.close()
    except OSError as exc:
        if exc.filename is None:  # the output cannot be written (a full disk): not a bug
            report.invalid(f"could not write the output: {escape(exc.strerror or str(exc))}")
        else:  # a file the program itself opens is missing: a bug (an install without data)
            _internal(exc, debug, report)
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        _internal(exc, debug, report)
    with contextlib.suppress(OSError, ValueError):
        out.flush()  # the answers finished before an interruption reach the reader
    return int(report.code)


def _internal(exc: BaseException, debug: bool, report: Report) -> None:
    """A bug: one line naming it, the traceback only with --debug."""
    if debug:
        traceback.print_exc(file=report.err)
    message = escape(f"{type(exc).__name__}: {exc}")[:300]
    print(f"factordose: internal error, please report: {message}", file=report.err)
    report.saw(Exit.INTERNAL)


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGINT and SIGTERM end the run between two answers, not inside one: each
    answer is written in one piece, so the output ends on a line boundary."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; nothing to install
        return

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(Exit.TERMINATED if signum == signal.SIGTERM else Exit.INTERRUPTED)

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
