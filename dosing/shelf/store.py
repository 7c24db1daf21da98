"""The shelf's storage: a ledger of lots and append-only movements (SQLAlchemy Core).

:func:`open_shelf` connects to the database named by a URL (``--db``), else
``FACTORDOSE_DB``, else a SQLite file in the user's data directory, and brings
its schema up to date with the migrations shipped in the package (Alembic)
before anything else.  SQLite runs in WAL mode with a busy timeout, and every
transaction that writes begins ``IMMEDIATE``, so two dispenses never read the
same stock; on PostgreSQL a dispense locks its lots' rows (in one order).
Stock is the sum of a lot's movements, which a trigger adds to the lot's
``on_hand`` as each is written (a CHECK keeps it >= 0); no movement is ever
updated or deleted (triggers refuse it in the database itself).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from dosing.billing.catalog import load_catalog
from dosing.errors import DosingError, InputError, LedgerError, NotOnRecord
from dosing.shelf.clock import site_today
from dosing.shelf.schema import dispenses, keys, lots, movements, serials
from dosing.stops import Override, Stop, Stopped
from optimizer import Lot
from optimizer.errors import Described
from optimizer.numbers import counted

__all__ = [
    "DB_ENV",
    "Dispense",
    "Recall",
    "Shelf",
    "StockChanged",
    "database_trouble",
    "default_url",
    "open_shelf",
    "order_text",
]

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"

#: The environment variable naming the database when ``--db`` does not.
DB_ENV = "FACTORDOSE_DB"
#: How long a writer waits for another to finish, in milliseconds (SQLite).
BUSY_TIMEOUT_MS = 10_000


#: The most vials one movement records (a pharmacy's year of one lot, many times over).
MAX_VIALS = 100_000
#: Ids are 64-bit in the database; a larger number is no dispense on record.
MAX_ID = 2**63 - 1


def _text(value: object, field: str, limit: int, *, required: bool = True) -> str | None:
    """A name, patient, reason or site as the ledger keeps it: printable (no
    control or direction characters), at most ``limit`` characters; blank is
    refused where ``required``, else read as none."""
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise InputError(field, "text (who or why)", Described("nothing"))
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "text (who or why)", Described("nothing"))
    if not value.isprintable() or len(value) > limit:
        raise InputError(
            field, f"printable text of at most {limit} characters", Described("other text")
        )
    return value.strip()


def _site(site: object) -> str:
    if site == "":
        return ""
    return _text(site, "site", 64) or ""


def _count(count: object, field: str = "count") -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_VIALS:
        raise InputError(field, f"a whole number of vials from 1 to {MAX_VIALS:,}", count)
    return count


def _dispense_id(dispense_id: object) -> int:
    if isinstance(dispense_id, bool) or not isinstance(dispense_id, int):
        raise InputError("dispense", "a dispense id (a whole number)", dispense_id)
    if not 1 <= dispense_id <= MAX_ID:
        raise NotOnRecord("dispense", "a dispense on record", Described(str(dispense_id)[:30]))
    return dispense_id


def _identified(lot: Lot) -> None:
    """A lot the ledger takes: a known drug by its product or NDC (the catalog),
    a lot id of at most 64 characters and a count it can hold."""
    if len(lot.lot) > 64:
        raise InputError("lot", "a lot number of at most 64 characters", Described("longer"))
    if lot.count > MAX_VIALS:
        raise InputError(f"lot {lot.lot}: count", f"at most {MAX_VIALS:,} vials", lot.count)
    identity = load_catalog().identify(lot)
    if identity.product is None:
        raise InputError(
            f"lot {lot.lot}",
            "a drug the catalog knows: its product named (factordose catalog lists them) "
            "or an NDC the catalog lists",
            Described("neither"),
        )
    if identity.conflict:
        raise InputError(f"lot {lot.lot}", "one drug", Described(identity.conflict))


class StockChanged(DosingError):
    """A dispense asked for more vials than the ledger now holds; ``short`` maps
    each lot short of them to (vials left, vials asked)."""

    def __init__(self, message: str, short: Mapping[str, tuple[int, int]]) -> None:
        super().__init__(message)
        self.short = dict(short)


@dataclass(frozen=True)
class Dispense:
    """One patient's vials for :meth:`Shelf.dispense_all`."""

    vials: Mapping[str, int]  # lot id -> vials
    patient: str | None = None
    order: Mapping[str, object] | None = None
    plan: Mapping[str, object] | None = None
    #: the caller's key for this request: sent again, the dispense is not repeated
    key: str | None = None
    #: the date of service, and the drug (the code set's: codes that share it), that a
    #: second dispense for the same patient is checked against
    service_date: dt.date | None = None
    drug: str | None = None
    #: the stops a pharmacist overrode for this dispense, and why
    override: Override | None = None


@dataclass(frozen=True)
class Recall:
    """One dispense of a recalled lot."""

    dispense_id: int
    patient: str | None
    at: dt.datetime
    vials: int
    user: str
    override: Override | None = None


def default_url() -> str:
    """``FACTORDOSE_DB``, else a SQLite file in the user's data directory."""
    named = os.environ.get(DB_ENV)
    if named:
        return named
    import platformdirs

    folder = Path(platformdirs.user_data_dir("factordose", appauthor=False))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds patients: owner only
    return f"sqlite:///{folder / 'shelf.db'}"


def open_shelf(url: str | None = None, *, check: bool = True) -> Shelf:
    """The shelf at ``url`` (see the module docstring), migrated to the newest schema.
    A SQLite ledger is checked first (``PRAGMA quick_check``): a damaged one is a
    :class:`LedgerError`, unless ``check`` is False (``shelf check`` opens it to
    say what is wrong)."""
    field = "db" if url is not None or not os.environ.get(DB_ENV) else DB_ENV
    if url is not None and not url.strip():
        raise InputError("db", "a database URL such as sqlite:///shelf.db", Described("nothing"))
    try:
        engine = sa.create_engine(url or default_url())
    except ImportError:
        raise InputError(
            field,
            "a database whose driver is installed (PostgreSQL: pip install 'factordose[postgres]')",
            Described("a driver missing"),
        ) from None
    except sa.exc.ArgumentError:
        raise InputError(
            field, "a database URL such as sqlite:///shelf.db", Described("another")
        ) from None
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            raise InputError(
                field,
                "a database file (sqlite:///path/shelf.db): an in-memory one keeps nothing",
                Described("an in-memory database"),
            )
        _sqlite_file(Path(engine.url.database), field)
        _sqlite_setup(engine)
    try:
        _migrate(engine)
        if engine.dialect.name == "sqlite" and check:
            with engine.connect() as db:
                checked = db.exec_driver_sql("PRAGMA quick_check").scalars().all()
            if checked != ["ok"]:
                raise LedgerError(
                    f"the shelf's database {engine.url.database} fails SQLite's integrity "
                    f"check ({counted(len(checked), 'problem')}): it is damaged; restore it "
                    "from a backup (factordose shelf check lists the problems)"
                )
    except sa.exc.DatabaseError as exc:  # no such folder or server, no permission, no database
        engine.dispose()
        if "not a database" in str(exc.orig) or "malformed" in str(exc.orig):
            raise LedgerError(
                f"the shelf's database {engine.url.database} is damaged "
                f"({database_trouble(exc)}): restore it from a backup"
            ) from None
        raise InputError(
            field, "a database that can be opened", Described("one that cannot be opened")
        ) from None
    except LedgerError:
        engine.dispose()
        raise
    return Shelf(engine)


def _sqlite_file(path: Path, field: str) -> None:
    """A SQLite ledger is made only where no file is: an empty (0-byte) or foreign
    file at the path is refused, never taken for a new, empty shelf.  A new file
    is made readable by its owner only (it holds patients and password hashes);
    SQLite gives its -wal and -shm files the same mode."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:  # made by another process meanwhile: a new ledger too
            pass
        except OSError:
            raise InputError(
                field, "a database that can be opened", Described("one that cannot be made")
            ) from None
        return
    except IsADirectoryError:
        raise InputError(field, "a database that can be opened", Described("a folder")) from None
    except OSError:
        raise InputError(
            field, "a database that can be opened", Described("one that cannot be read")
        ) from None
    if not head:
        raise LedgerError(
            f"the shelf's database {path} is an empty file (0 bytes), not a new shelf: restore "
            "the ledger from its backup, or remove the file to start an empty shelf"
        )
    if head != SQLITE_HEADER:
        raise LedgerError(
            f"the shelf's database {path} is not a SQLite database: name the ledger's file, "
            "or restore it from its backup"
        )


def database_trouble(exc: BaseException) -> str:
    """What the database said went wrong, in one line, without the statement
    (SQLAlchemy's message carries the SQL and its parameters)."""
    orig = getattr(exc, "orig", None)
    said = str(orig if orig is not None else exc).strip().splitlines()
    return (said[0] if said else type(exc).__name__)[:160]


def _sqlite_setup(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first


def _migrate(engine: sa.Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("dosing.shelf").joinpath("migrations"))
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class Shelf:
    """The ledger's operations; each one a transaction of its own."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Shelf:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check(self) -> list[str]:
        """What is wrong with the ledger (an empty list when nothing is): SQLite's
        full integrity check, then the ledger's own invariants: every lot's stock
        is the sum of its movements, and every dispense has its movements."""
        problems: list[str] = []
        try:
            return self._check(problems)
        except sa.exc.DatabaseError as exc:  # too damaged even to be checked
            return [*problems, f"SQLite: {database_trouble(exc)}"]

    def _check(self, problems: list[str]) -> list[str]:
        with self.engine.connect() as db:
            if self.engine.dialect.name == "sqlite":
                said = db.exec_driver_sql("PRAGMA integrity_check(100)").scalars().all()
                if said != ["ok"]:
                    problems += [f"SQLite: {str(line)[:160]}" for line in said]
                    return problems  # the tables cannot be trusted to be read
            summed = (
                sa.select(
                    lots.c.lot,
                    lots.c.site,
                    lots.c.on_hand,
                    sa.func.coalesce(sa.func.sum(movements.c.quantity), 0).label("moved"),
                )
                .select_from(lots.outerjoin(movements, movements.c.lot_id == lots.c.id))
                .group_by(lots.c.id, lots.c.lot, lots.c.site, lots.c.on_hand)
            )
            for row in db.execute(summed):
                if int(row.on_hand) != int(row.moved):
                    where = f" at site {row.site}" if row.site else ""
                    problems.append(
                        f"lot {row.lot}{where}: {row.on_hand} on hand, but its movements "
                        f"add up to {row.moved}"
                    )
            bare = (
                sa.select(dispenses.c.id)
                .where(~sa.exists().where(movements.c.dispense_id == dispenses.c.id))
                .order_by(dispenses.c.id)
            )
            for dispense_id in db.execute(bare).scalars():
                problems.append(f"dispense {dispense_id} has no movements")
        return problems

    def backup(self, target: Path) -> None:
        """A consistent copy of a SQLite ledger at ``target`` (a new file, owner
        only), made while the ledger is in use (SQLite's online backup)."""
        if self.engine.dialect.name != "sqlite":
            raise InputError(
                "db",
                'a SQLite ledger (for PostgreSQL, use pg_dump: README "Backing up")',
                Described(self.engine.dialect.name),
            )
        import sqlite3

        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            raise InputError(
                "backup", "a file that does not exist yet", Described(str(target))
            ) from None
        except OSError as exc:
            raise InputError(
                "backup", "a file that can be made", Described(f"{target}: {exc.strerror}")
            ) from None
        source = sqlite3.connect(str(self.engine.url.database))
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()

    def receive(
        self,
        received: Iterable[Lot],
        *,
        user: str,
        site: str = "",
        add: bool = False,
        today: dt.date | None = None,
    ) -> int:
        """Record vials received, all or none: each lot must be a drug the catalog
        knows and not expired on ``today`` (the site's, by default); a lot already
        received at the site is refused unless ``add`` says the receipt adds to
        it (a file imported twice never doubles the stock), and must match what
        is on file.  Returns the vials received."""
        user, site = _text(user, "by", 64) or "", _site(site)
        received = list(received)
        day = today or site_today()
        for lot in received:
            _identified(lot)
            _in_date(lot, day)
        total = 0
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as db:
            for lot in received:
                lot_id = self._lot_id(db, lot, site, add=add)
                if lot.count:
                    db.execute(
                        movements.insert().values(
                            lot_id=lot_id, kind="receive", quantity=lot.count, user=user, at=now
                        )
                    )
                    total += lot.count
        return total

    def stock(self, site: str = "") -> tuple[Lot, ...]:
        """Every lot of ``site`` with its vials on hand (the sum of its movements,
        which the database keeps in ``lots.on_hand``)."""
        query = sa.select(lots).where(lots.c.site == _site(site)).order_by(lots.c.id)
        with self.engine.connect() as db:
            return tuple(_lot_of(dict(row)) for row in db.execute(query).mappings())

    def dispense(
        self,
        vials: Mapping[str, int],
        *,
        user: str,
        site: str = "",
        patient: str | None = None,
        order: Mapping[str, object] | None = None,
        plan: Mapping[str, object] | None = None,
        today: dt.date | None = None,
    ) -> int:
        """Take ``vials`` (lot id -> count) off the shelf in one transaction that
        reads the stock again first: :class:`StockChanged` names a lot short of
        them (another dispense got there first), and nothing is recorded.
        Returns the dispense's id."""
        one = Dispense(vials, patient, order, plan)
        return self.dispense_all([one], user=user, site=site, today=today)[0]

    def dispense_all(
        self,
        wanted: Sequence[Dispense],
        *,
        user: str,
        site: str = "",
        today: dt.date | None = None,
    ) -> list[int]:
        """Several dispenses (a supply's doses) in one transaction: all recorded,
        or none.  Refused, with nothing recorded: a lot short of the vials
        (:class:`StockChanged`: another dispense got there first); a lot expired
        on the later of ``today`` (the site's day the vials leave, by default)
        and the dose's date of service (:class:`~dosing.errors.InputError`); a
        second dispense of the same drug for the same patient and date of service
        whose stop was not overridden (:class:`~dosing.stops.Stopped`).  Returns
        their ids."""
        user, site = _text(user, "by", 64) or "", _site(site)
        day = today or site_today()
        wanted = [
            replace(
                one,
                patient=_text(one.patient, "patient", 64, required=False),
                key=_text(one.key, "key", 64, required=False),
            )
            for one in wanted
        ]
        total: dict[str, int] = {}
        for one in wanted:
            for lot, count in one.vials.items():
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise InputError(f"lot {lot}", "a whole number of vials >= 0", count)
                if count > MAX_VIALS:
                    raise InputError(f"lot {lot}", f"at most {MAX_VIALS:,} vials", count)
                total[lot] = total.get(lot, 0) + count
        now = dt.datetime.now(dt.UTC)
        try:
            return self._record(wanted, total, user, site, now, day)
        except sa.exc.IntegrityError:  # the same key committed by another request meanwhile
            with self.engine.connect() as db:
                done = self._keyed(db, wanted)
            if done is None:
                raise
            return done

    def _record(
        self,
        wanted: Sequence[Dispense],
        total: Mapping[str, int],
        user: str,
        site: str,
        now: dt.datetime,
        day: dt.date,
    ) -> list[int]:
        with self.engine.begin() as db:
            done = self._keyed(db, wanted)
            if done is not None:  # the same request again: what it recorded, nothing more
                return done
            # lots locked in one order, so two dispenses never wait on each other
            ids, short, expiry = {}, {}, {}
            for lot, count in sorted(total.items()):
                ids[lot], left, expiry[lot] = self._locked(db, lot, site)
                if count > left:
                    short[lot] = (left, count)
            if short:
                raise StockChanged(
                    "; ".join(
                        f"lot {lot} has {counted(left, 'vial')} left, not {count}"
                        for lot, (left, count) in short.items()
                    )
                    + ": plan again from the shelf",
                    short,
                )
            for one in wanted:
                judged = max(day, one.service_date) if one.service_date else day
                for lot, count in one.vials.items():
                    expires = expiry[lot]
                    if count and expires is not None and expires < judged:
                        raise InputError(
                            f"lot {lot}",
                            f"a lot not expired on {judged.isoformat()} (the later of today "
                            "and the date of service)",
                            Described(f"one that expired on {expires.isoformat()}"),
                        )
            self._no_second_dispense(db, wanted)
            made = []
            for one in wanted:
                key = db.execute(
                    dispenses.insert().values(
                        site=site,
                        user=user,
                        patient=one.patient,
                        at=now,
                        order_json=order_text(one.order),
                        plan_json=order_text(one.plan),
                        request_key=one.key,
                        service_date=one.service_date,
                        drug=one.drug,
                        left_on=day,
                        override_reason=one.override.reason if one.override else None,
                        override_by=one.override.by if one.override else None,
                        override_stops=",".join(one.override.stops) if one.override else None,
                    )
                ).inserted_primary_key
                assert key is not None
                made.append(int(key[0]))
                for lot, count in one.vials.items():
                    if count:
                        db.execute(
                            movements.insert().values(
                                lot_id=ids[lot],
                                kind="dispense",
                                quantity=-count,
                                user=user,
                                patient=one.patient,
                                dispense_id=made[-1],
                                at=now,
                            )
                        )
        return made

    def _no_second_dispense(self, db: sa.Connection, wanted: Sequence[Dispense]) -> None:
        """Refuse (:class:`Stopped`) a dispense of a drug its patient already has
        for that date of service (not voided, not all returned), here or in the
        same request, unless its override names the stop.  Read under the write
        lock, so two dispenses at once cannot both pass."""
        seen: set[tuple[str, dt.date, str]] = set()
        for one in wanted:
            if one.patient is None or one.service_date is None or one.drug is None:
                continue
            found = self.dispensed_for(one.patient, one.service_date, one.drug, db=db)
            here = (one.patient, one.service_date, one.drug)
            if here in seen:
                found = [*found, 0]
            seen.add(here)
            overridden = one.override is not None and "duplicate-dispense" in one.override.stops
            if found and not overridden:
                raise Stopped([duplicate_stop(one.patient, one.service_date, found)])

    def dispensed_for(
        self, patient: str, service_date: dt.date, drug: str, *, db: sa.Connection | None = None
    ) -> list[int]:
        """The dispenses of ``drug`` for ``patient`` on ``service_date``, at any site,
        that still have vials out (a voided or fully returned one does not count)."""
        out = (
            sa.select(sa.func.coalesce(-sa.func.sum(movements.c.quantity), 0))
            .where(movements.c.dispense_id == dispenses.c.id)
            .scalar_subquery()
        )
        query = (
            sa.select(dispenses.c.id)
            .where(
                dispenses.c.patient == patient,
                dispenses.c.service_date == service_date,
                dispenses.c.drug == drug,
                out > 0,
            )
            .order_by(dispenses.c.id)
        )
        if db is not None:
            return [int(i) for i in db.execute(query).scalars()]
        with self.engine.connect() as connection:
            return [int(i) for i in connection.execute(query).scalars()]

    def signing_key(self, name: str = "forms") -> bytes:
        """A random secret kept in the ledger under ``name`` (made on first use), so
        every worker of the service signs and checks with the same key."""
        import secrets

        with self.engine.connect() as db:
            found = db.execute(sa.select(keys.c.value).where(keys.c.name == name)).scalar()
        if found is None:
            try:
                with self.engine.begin() as db:
                    db.execute(keys.insert().values(name=name, value=secrets.token_hex(32)))
            except sa.exc.IntegrityError:  # another worker made it first
                pass
            with self.engine.connect() as db:
                found = db.execute(sa.select(keys.c.value).where(keys.c.name == name)).scalar()
        assert found is not None
        return bytes.fromhex(found)

    def already(
        self, key: str
    ) -> tuple[int, dict[str, object] | None, tuple[str | None, str | None]] | None:
        """The dispense recorded under request ``key``, its plan JSON, and what it
        was for: the order JSON (as recorded) and the patient; None if none."""
        with self.engine.connect() as db:
            found = db.execute(
                sa.select(
                    dispenses.c.id, dispenses.c.plan_json, dispenses.c.order_json,
                    dispenses.c.patient,
                ).where(dispenses.c.request_key == key)
            ).first()  # fmt: skip
        if found is None:
            return None
        plan = None if found.plan_json is None else json.loads(found.plan_json)
        return int(found.id), plan, (found.order_json, found.patient)

    def _keyed(self, db: sa.Connection, wanted: Sequence[Dispense]) -> list[int] | None:
        """The ids already recorded under the dispenses' keys, when every one has
        been (a repeat); None when none has; a mix is refused."""
        keys = [one.key for one in wanted]
        if all(k is None for k in keys):
            return None
        found = dict(
            db.execute(
                sa.select(dispenses.c.request_key, dispenses.c.id).where(
                    dispenses.c.request_key.in_([k for k in keys if k is not None])
                )
            ).all()
        )
        if not found:
            return None
        if any(k is None or k not in found for k in keys):
            raise InputError("key", "request keys all new or all repeated", Described("a mix"))
        return [int(found[k]) for k in keys]

    def receive_package(
        self,
        lot: Lot,
        *,
        gtin: str,
        serial: str | None,
        user: str,
        site: str = "",
        today: dt.date | None = None,
    ) -> None:
        """Record one scanned package (``lot.count`` vials) of a lot received
        before or new; refused, with nothing recorded: a GTIN and serial already
        received (here or at another site), a lot expired on ``today`` (the
        site's day, by default)."""
        user, site = _text(user, "by", 64) or "", _site(site)
        _identified(lot)
        _in_date(lot, today or site_today())
        with self.engine.begin() as db:
            if serial is not None:
                seen = db.execute(
                    sa.select(serials.c.id).where(
                        serials.c.gtin == gtin, serials.c.serial == serial
                    )
                ).first()
                if seen is not None:
                    raise InputError(
                        "scan (21)",
                        "a serial not received before",
                        Described("one already on record: the same package scanned twice"),
                    )
            lot_id = self._lot_id(db, lot, site, add=True)  # each package has its serial
            key = db.execute(
                movements.insert().values(
                    lot_id=lot_id,
                    kind="receive",
                    quantity=lot.count,
                    user=user,
                    at=dt.datetime.now(dt.UTC),
                )
            ).inserted_primary_key
            assert key is not None
            if serial is not None:
                # the unique constraint decides between two scans of it at once
                db.execute(serials.insert().values(gtin=gtin, serial=serial, movement_id=key[0]))

    def waste(self, lot: str, count: int, *, reason: str, user: str, site: str = "") -> None:
        """Take ``count`` vials of ``lot`` off the shelf as waste (expired, damaged)."""
        count = _count(count)
        if not isinstance(reason, str) or not reason.strip():
            raise InputError("reason", "why the vials are wasted", Described("nothing"))
        reason = _text(reason, "reason", 200) or ""
        user, site = _text(user, "by", 64) or "", _site(site)
        with self.engine.begin() as db:
            lot_id, left, _ = self._locked(db, lot, site)
            if count > left:
                raise InputError(
                    "count", f"at most the {counted(left, 'vial')} of lot {lot} on hand", count
                )
            db.execute(
                movements.insert().values(
                    lot_id=lot_id,
                    kind="waste",
                    quantity=-count,
                    user=user,
                    reason=reason,
                    at=dt.datetime.now(dt.UTC),
                )
            )

    def return_vials(
        self, dispense_id: int, *, user: str, lot: str | None = None, count: int | None = None
    ) -> int:
        """Put unopened vials of a dispense back on the shelf: all of them, or
        ``count`` of ``lot``; never more than the dispense took and has not yet
        returned.  Returns the vials put back."""
        dispense_id, user = _dispense_id(dispense_id), _text(user, "by", 64) or ""
        if count is not None:
            count = _count(count)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as db:
            rows, patient = self._out(db, dispense_id)
            back = 0
            for row in rows:
                if lot is not None and row.lot != lot:
                    continue
                want = int(row.out) if count is None else count
                if want > int(row.out):
                    raise InputError(
                        "count",
                        f"at most the {counted(int(row.out), 'vial')} of lot {row.lot} still out",
                        want,
                    )
                if want:
                    db.execute(
                        movements.insert().values(
                            lot_id=row.lot_id,
                            kind="return",
                            quantity=want,
                            user=user,
                            patient=patient,
                            dispense_id=dispense_id,
                            at=now,
                        )
                    )
                    back += want
            if lot is not None and not any(row.lot == lot for row in rows):
                raise InputError("lot", f"a lot of dispense {dispense_id}", Described("another"))
            if not back:
                raise InputError(
                    "dispense", "a dispense with vials still out", Described("none left")
                )
        return back

    def _out(self, db: sa.Connection, dispense_id: int) -> tuple[list[Any], str | None]:
        """A dispense's lots with the vials still out of each (``lot_id``, ``lot``,
        ``out``), and its patient; :class:`NotOnRecord` when there is no such dispense."""
        rows = db.execute(
            sa.select(
                movements.c.lot_id,
                lots.c.lot,
                (-sa.func.sum(movements.c.quantity)).label("out"),
            )
            .select_from(movements.join(lots, movements.c.lot_id == lots.c.id))
            .where(movements.c.dispense_id == dispense_id)
            .group_by(movements.c.lot_id, lots.c.lot)
        ).all()
        if not rows:
            raise NotOnRecord("dispense", "a dispense on record", Described(str(dispense_id)))
        patient = db.execute(
            sa.select(dispenses.c.patient).where(dispenses.c.id == dispense_id)
        ).scalar()
        return list(rows), patient

    def void(self, dispense_id: int, *, reason: str, user: str) -> int:
        """Undo a dispense recorded in error: every vial still out goes back on the
        shelf by an ``adjust`` movement with the reason (the dispense's own
        movements stay).  Returns the vials put back."""
        if not isinstance(reason, str) or not reason.strip():
            raise InputError("reason", "why the dispense is voided", Described("nothing"))
        reason = _text(reason, "reason", 200) or ""
        dispense_id, user = _dispense_id(dispense_id), _text(user, "by", 64) or ""
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as db:
            rows, patient = self._out(db, dispense_id)
            back = 0
            for row in rows:
                if int(row.out) > 0:
                    db.execute(
                        movements.insert().values(
                            lot_id=row.lot_id,
                            kind="adjust",
                            quantity=int(row.out),
                            user=user,
                            patient=patient,
                            dispense_id=dispense_id,
                            reason=f"void: {reason.strip()}"[:200],
                            at=now,
                        )
                    )
                    back += int(row.out)
            if not back:
                raise InputError(
                    "dispense", "a dispense with vials still out", Described("none left")
                )
        return back

    def log(
        self,
        *,
        site: str = "",
        lot: str | None = None,
        patient: str | None = None,
        user: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[dict[str, object]]:
        """The movements, oldest first, filtered by lot, patient, user and time
        (``since`` inclusive, ``until`` exclusive).  A lot not on the shelf is
        :class:`NotOnRecord` (a mistyped lot number, not an empty history)."""
        site = _site(site)
        if lot is not None:
            self._known(lot, site)
        if since is not None and until is not None and _utc(since) >= _utc(until):
            raise InputError("since", "a time before `until`", Described("one after it"))
        query = (
            sa.select(
                movements.c.id,
                movements.c.at,
                movements.c.kind,
                lots.c.lot,
                movements.c.quantity,
                movements.c.user,
                movements.c.patient,
                movements.c.dispense_id,
                movements.c.reason,
                dispenses.c.override_reason,
                dispenses.c.override_by,
                dispenses.c.override_stops,
            )
            .select_from(
                movements.join(lots, movements.c.lot_id == lots.c.id).outerjoin(
                    dispenses,
                    (movements.c.dispense_id == dispenses.c.id) & (movements.c.kind == "dispense"),
                )
            )
            .where(lots.c.site == site)
            .order_by(movements.c.id)
        )
        if lot is not None:
            query = query.where(lots.c.lot == lot)
        if patient is not None:
            query = query.where(movements.c.patient == patient)
        if user is not None:
            query = query.where(movements.c.user == user)
        if since is not None:
            query = query.where(movements.c.at >= _utc(since))
        if until is not None:
            query = query.where(movements.c.at < _utc(until))
        with self.engine.connect() as db:
            return [_move(row) for row in db.execute(query).mappings()]

    def _locked(self, db: sa.Connection, lot: str, site: str) -> tuple[int, int, dt.date | None]:
        """The lot's id, vials on hand and expiry, its row locked until the
        transaction ends."""
        row = db.execute(
            sa.select(lots.c.id, lots.c.on_hand, lots.c.expires)
            .where(lots.c.site == site, lots.c.lot == lot)
            .with_for_update()
        ).first()
        if row is None:
            raise NotOnRecord("lot", "a lot on the shelf", Described(f"lot {lot}"))
        return int(row.id), int(row.on_hand), row.expires

    def recall(self, lot: str, site: str = "") -> list[Recall]:
        """Every dispense of ``lot`` that reached a patient: patient, time, vials net of
        those returned unopened (or voided), who dispensed.  A lot never on the
        shelf is :class:`NotOnRecord`."""
        site = _site(site)
        self._known(lot, site)
        query = (
            sa.select(
                dispenses.c.id,
                dispenses.c.patient,
                dispenses.c.at,
                dispenses.c.user,
                (-sa.func.sum(movements.c.quantity)).label("vials"),
                dispenses.c.override_reason,
                dispenses.c.override_by,
                dispenses.c.override_stops,
            )
            .select_from(
                movements.join(lots, movements.c.lot_id == lots.c.id).join(
                    dispenses, movements.c.dispense_id == dispenses.c.id
                )
            )
            .where(
                lots.c.site == site,
                lots.c.lot == lot,
                movements.c.kind.in_(("dispense", "return", "adjust")),
            )
            .group_by(
                dispenses.c.id,
                dispenses.c.patient,
                dispenses.c.at,
                dispenses.c.user,
                dispenses.c.override_reason,
                dispenses.c.override_by,
                dispenses.c.override_stops,
            )
            .having(sa.func.sum(movements.c.quantity) < 0)  # vials returned unopened: none
            .order_by(dispenses.c.at, dispenses.c.id)
        )
        with self.engine.connect() as db:
            return [
                Recall(
                    row.id,
                    row.patient,
                    _utc(row.at),
                    int(row.vials),
                    row.user,
                    _override(row._mapping),
                )
                for row in db.execute(query)
            ]

    def _known(self, lot: str, site: str) -> None:
        with self.engine.connect() as db:
            found = db.execute(
                sa.select(lots.c.id).where(lots.c.site == site, lots.c.lot == lot)
            ).first()
        if found is None:
            raise NotOnRecord("lot", "a lot on the shelf (received here)", Described("another"))

    def _lot_id(self, db: sa.Connection, lot: Lot, site: str, *, add: bool) -> int:
        found = (
            db.execute(sa.select(lots).where(lots.c.site == site, lots.c.lot == lot.lot))
            .mappings()
            .first()
        )
        values = {
            "ndc": lot.ndc,
            "product": lot.product,
            "amount": str(lot.amount),
            "expires": lot.expires,
            "volume_ml": None if lot.volume_ml is None else str(lot.volume_ml),
        }
        if found is None:
            key = db.execute(lots.insert().values(site=site, lot=lot.lot, **values))
            assert key.inserted_primary_key is not None
            return int(key.inserted_primary_key[0])
        differing = [k for k, v in values.items() if v is not None and found[k] != v]
        if differing:
            raise InputError(
                f"lot {lot.lot}",
                "the same labeled amount, NDC, product and expiry as the lot on file",
                Described(f"another {differing[0]}"),
            )
        if not add:
            raise InputError(
                f"lot {lot.lot}",
                "a lot not yet received at this site, or a receipt that says it adds to it "
                '(--add; over HTTP "add": true): nothing was received',
                Described(f"one received before, {counted(int(found['on_hand']), 'vial')} on hand"),
            )
        return int(found["id"])


def _in_date(lot: Lot, today: dt.date) -> None:
    """Refuse a lot that has expired (its expiry before ``today``, the site's day)."""
    if lot.expires is not None and lot.expires < today:
        raise InputError(
            f"lot {lot.lot}: expires",
            f"a lot not expired on {today.isoformat()} (the site's today): nothing was received",
            Described(f"expired on {lot.expires.isoformat()}"),
        )


def duplicate_stop(patient: str, service_date: dt.date, found: Sequence[int]) -> Stop:
    """The stop for a second dispense of a drug for ``patient`` on ``service_date``
    (``found``: the dispenses on record, 0 for another dose of the same request)."""
    named = [f"dispense {i}" for i in found if i]
    if len(named) < len(found):
        named.append("another dose of this request")
    return Stop(
        "duplicate-dispense",
        f"patient {patient} already has this drug dispensed for {service_date.isoformat()} "
        f"({', '.join(named)}): a second dose the same day must be confirmed",
    )


def order_text(data: Mapping[str, object] | None) -> str | None:
    """``data`` (an order or plan JSON) as the JSON text recorded; the order
    reader's exact decimals as JSON numbers."""
    if data is None:
        return None

    def number(value: object) -> object:
        if isinstance(value, Decimal | Fraction):
            return int(value) if value == int(value) else float(value)
        raise TypeError(f"{type(value).__name__} is not JSON")

    return json.dumps(data, default=number)


def _override(row: sa.RowMapping | Mapping[str, Any]) -> Override | None:
    """The override a dispense row records (its ``override_*`` columns), if any."""
    if row["override_reason"] is None:
        return None
    stops = tuple(s for s in (row["override_stops"] or "").split(",") if s)
    return Override(row["override_reason"], row["override_by"] or "", stops)


_OVERRIDE_COLUMNS = ("override_reason", "override_by", "override_stops")


def _move(row: sa.RowMapping | Mapping[str, Any]) -> dict[str, object]:
    """A movement as :meth:`Shelf.log` gives it: its columns, the time in UTC, and
    the override of the dispense it records (``None`` for the others)."""
    move = {k: v for k, v in row.items() if k not in _OVERRIDE_COLUMNS}
    return {**move, "at": _utc(row["at"]), "override": _override(row)}


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive one (SQLite keeps no zone) is UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _lot_of(row: Mapping[str, Any]) -> Lot:
    return Lot(
        lot=row["lot"],
        amount=Fraction(row["amount"]),
        count=int(row["on_hand"]),
        ndc=row["ndc"],
        expires=row["expires"],
        product=row["product"],
        volume_ml=None if row["volume_ml"] is None else Fraction(row["volume_ml"]),
    )
