"""``factordose serve`` and ``factordose users``: the web service and who may use it."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from dosing.cli.report import Report, UsageError
from dosing.errors import InputError
from dosing.shelf.clock import TZ_ENV, site_zone
from dosing.shelf.store import DB_ENV, open_shelf
from optimizer.errors import Described

if TYPE_CHECKING:  # the service's modules load only for the users commands
    from dosing.web.auth import Accounts

__all__ = ["register"]


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="the pharmacist's pages and the JSON API",
        description="Serve the pages (Plan, Shelf, Supply, Check) and the JSON API on the "
        "shelf's database. Without users it listens on this machine only; "
        "`factordose users add NAME` first to serve a network.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--db", metavar="URL", help=f"the shelf's database (else {DB_ENV})")
    serve.add_argument(
        "--tz",
        metavar="ZONE",
        help=f"the site's time zone, whose today judges expiry (else {TZ_ENV}, else the machine's)",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; one per core)"
    )
    serve.add_argument(
        "--lock-after",
        type=int,
        default=10,
        metavar="N",
        help="failed sign-ins in a row that lock an account or address (default 10)",
    )
    serve.add_argument(
        "--lock-minutes",
        type=int,
        default=15,
        metavar="M",
        help="how long such a lock lasts (default 15)",
    )
    serve.set_defaults(run=run_serve)

    users = commands.add_parser("users", help="who may use the web service")
    users.add_argument("--db", metavar="URL", help=f"the shelf's database (else {DB_ENV})")
    actions = users.add_subparsers(dest="action", required=True)
    after = argparse.ArgumentParser(add_help=False)  # --db after the action too
    after.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    add = actions.add_parser("add", parents=[after], help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(run=run_add)
    token = actions.add_parser(
        "token", parents=[after], help="a new API token for a user (shown once)"
    )
    token.add_argument("name")
    token.set_defaults(run=run_token)
    revoke = actions.add_parser(
        "revoke", parents=[after], help="end every token and session of a user"
    )
    revoke.add_argument("name")
    revoke.set_defaults(run=run_revoke)
    unlock = actions.add_parser(
        "unlock", parents=[after], help="end the lock of too many failed sign-ins"
    )
    unlock.add_argument("name", nargs="?", help="the user")
    unlock.add_argument("--address", metavar="ADDR", help="a client address instead")
    unlock.set_defaults(run=run_unlock)
    password = actions.add_parser(
        "password", parents=[after], help="a new password (ends the user's sessions)"
    )
    password.add_argument("name")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    password.set_defaults(run=run_password)
    listing = actions.add_parser("list", parents=[after], help="the users")
    listing.set_defaults(run=run_list)


def run_serve(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    import uvicorn

    from dosing.web import create_app
    from dosing.web.access import loopback_name

    if not 0 < args.port < 65536:
        raise InputError("port", "a port from 1 to 65535", args.port)
    if not 1 <= args.workers <= 64:
        raise InputError("workers", "a number of processes from 1 to 64", args.workers)
    if not 1 <= args.lock_after <= 1000:
        raise InputError(
            "lock-after", "a number of failed sign-ins from 1 to 1,000", args.lock_after
        )
    if not 1 <= args.lock_minutes <= 10_080:
        raise InputError("lock-minutes", "minutes from 1 to 10,080 (a week)", args.lock_minutes)
    from dosing.web.throttle import LOCK_AFTER_ENV, LOCK_MINUTES_ENV

    os.environ[LOCK_AFTER_ENV] = str(args.lock_after)  # each worker's too
    os.environ[LOCK_MINUTES_ENV] = str(args.lock_minutes)
    if args.tz is not None:  # the service's and each worker's today
        site_zone(args.tz)
        os.environ[TZ_ENV] = args.tz.strip()
    app = create_app(args.db)  # the database opened and migrated once, here
    if not loopback_name(args.host) and not app.state.accounts.any():
        raise UsageError(
            f"--host {args.host} would serve other machines, and there are no users: "
            "add one first (factordose users add NAME), or serve on 127.0.0.1"
        )
    shown = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
    print(f"factordose: serving on http://{shown}:{args.port} (Ctrl+C stops)", file=out)
    out.flush()
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return
    if args.db:  # each worker process opens the same database
        os.environ[DB_ENV] = args.db
    uvicorn.run(
        "dosing.web.app:from_environment",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="warning",
    )


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise InputError("password", "the same password twice", Described("two"))
    return password


@contextlib.contextmanager
def _accounts(args: argparse.Namespace) -> Iterator[Accounts]:
    """The users of the shelf ``--db`` names, for one command."""
    from dosing.web.auth import Accounts

    with open_shelf(args.db) as shelf:
        yield Accounts(shelf.engine)


def run_add(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    password = _password(args)
    with _accounts(args) as accounts:
        accounts.add(args.name, password)
    print(f"Added user {args.name}.", file=out)


def run_token(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _accounts(args) as accounts:
        token = accounts.new_token(args.name)
    print(token, file=out)


def run_revoke(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    with _accounts(args) as accounts:
        ended = accounts.revoke(args.name)
    print(f"Ended {args.name}'s sessions and {ended} token(s).", file=out)


def run_password(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    password = _password(args)
    with _accounts(args) as accounts:
        accounts.set_password(args.name, password)
    print(f"New password for {args.name}; their sessions ended.", file=out)


def run_unlock(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    from dosing.web.throttle import Throttle

    if (args.name is None) == (args.address is None):
        raise UsageError("give a user NAME or --address ADDR, one of them")
    with _accounts(args) as accounts:
        if args.name is not None and args.name not in accounts.names():
            raise InputError("name", "a user on record", Described("another"))
        what = args.name if args.name is not None else f"address {args.address}"
        done = Throttle(accounts.engine).unlock(
            args.name or args.address, address=args.address is not None
        )
    print(
        f"Unlocked {what}: failed sign-ins forgotten." if done else f"{what}: no failed sign-ins.",
        file=out,
    )


def run_list(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    from dosing.web.throttle import Throttle

    with _accounts(args) as accounts:
        names = accounts.names()
        throttle = Throttle(accounts.engine)
        locks = {name: throttle.locked_until(name) for name in names}
    lines = [
        name + (f"  (locked until {until:%Y-%m-%d %H:%M} UTC)" if (until := locks[name]) else "")
        for name in names
    ]
    print(
        "\n".join(lines) if names else "No users: the service serves this machine only.", file=out
    )
