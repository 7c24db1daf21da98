"""The ledger against a plain in-memory model (hypothesis stateful testing):
receive (again, with and without "adds to it"), dispense (on any date of
service, with and without an override), return, void, waste and days passing,
in any order, leave the same stock, recall and refusals as a few dictionaries
do; and no vial ever left the shelf expired on the day it left."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from fractions import Fraction

import hypothesis.strategies as st
import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from dosing import InputError
from dosing.shelf import Dispense, Shelf, StockChanged, open_shelf
from dosing.shelf.schema import dispenses as dispense_rows
from dosing.shelf.schema import lots as lot_rows
from dosing.shelf.schema import movements
from dosing.stops import Override, Stopped
from optimizer import Lot
from tests.shelf.conftest import PG_ENV

LOT_IDS = ("A", "B", "C")
USERS = st.sampled_from(("ana", "bo"))
PATIENTS = st.sampled_from(("P1", "P2", None))
START = dt.date(2026, 12, 8)
#: each lot's label expiry: A today (expired after a day), B in four days, C undated
EXPIRES = {"A": START, "B": START + dt.timedelta(days=4), "C": None}
#: a dispense's date of service, in days from the model's today (None: none given)
SERVICE = st.sampled_from((None, -2, 0, 2, 5))
OVERRIDES = st.sampled_from((None, None, None, "second dose: bleed"))


class Ledger(RuleBasedStateMachine):
    """The shelf as the model sees it: vials on hand per lot, and per dispense
    what went out and is still out (net of returns and voids)."""

    url = ""  # set by the test that runs the machine
    dispenses = Bundle("dispenses")

    @initialize(stocked=st.sampled_from(LOT_IDS[:2]))
    def open(self, stocked: str) -> None:
        self.folder = tempfile.TemporaryDirectory()
        url = self.url or f"sqlite:///{os.path.join(self.folder.name, 'shelf.db')}"
        if self.url:  # an empty PostgreSQL database for every run
            engine = sa.create_engine(url)
            with engine.begin() as db:
                db.execute(sa.text("DROP SCHEMA public CASCADE"))
                db.execute(sa.text("CREATE SCHEMA public"))
            engine.dispose()
        self.shelf: Shelf = open_shelf(url)
        self.today = START
        self.on_hand: dict[str, int] = {}
        self.out: dict[int, dict[str, int]] = {}  # dispense -> lot -> vials still out
        self.patient: dict[int, str | None] = {}
        self.service: dict[int, dt.date | None] = {}  # dispense -> its date of service
        self.overrides: dict[int, Override | None] = {}
        # one lot on the shelf from the start, so most dispenses can be made
        received = Lot(stocked, Fraction(500), 8, product="Jivi", expires=EXPIRES[stocked])
        self.shelf.receive([received], user="ana", today=self.today)
        self.on_hand[stocked] = 8

    def teardown(self) -> None:
        if hasattr(self, "shelf"):
            self.shelf.close()
            self.folder.cleanup()

    @rule(days=st.integers(1, 4))
    def a_day_passes(self, days: int) -> None:
        self.today += dt.timedelta(days=days)

    @rule(lot=st.sampled_from(LOT_IDS), count=st.integers(0, 5), user=USERS, add=st.booleans())
    def receive(self, lot: str, count: int, user: str, add: bool) -> None:
        received = Lot(lot, Fraction(500), count, product="Jivi", expires=EXPIRES[lot])
        expires = EXPIRES[lot]
        if expires is not None and expires < self.today:
            with pytest.raises(InputError, match="expired on"):
                self.shelf.receive([received], user=user, add=add, today=self.today)
            return
        if lot in self.on_hand and not add:  # the same file again: never doubled
            with pytest.raises(InputError, match="received before"):
                self.shelf.receive([received], user=user, add=add, today=self.today)
            return
        self.shelf.receive([received], user=user, add=add, today=self.today)
        self.on_hand[lot] = self.on_hand.get(lot, 0) + count

    @rule(
        target=dispenses,
        wanted=st.dictionaries(st.sampled_from(LOT_IDS), st.integers(1, 4), min_size=1),
        user=USERS,
        patient=PATIENTS,
        service=SERVICE,
        override=OVERRIDES,
    )
    def dispense(
        self,
        wanted: dict[str, int],
        user: str,
        patient: str | None,
        service: int | None,
        override: str | None,
    ) -> object:
        day = None if service is None else self.today + dt.timedelta(days=service)
        return self._dispense(wanted, user, patient, day, override)

    @rule(target=dispenses, given=dispenses, override=OVERRIDES)
    def dispense_again(self, given: int, override: str | None) -> object:
        """The same patient, drug and date of service as an earlier dispense: a stop
        while that one still has vials out, unless overridden."""
        wanted = {lot: 1 for lot, n in sorted(self.on_hand.items()) if n}  # what is there
        if not wanted:
            return multiple()
        return self._dispense(wanted, "bo", self.patient[given], self.service[given], override)

    def _dispense(
        self,
        wanted: dict[str, int],
        user: str,
        patient: str | None,
        day: dt.date | None,
        override: str | None,
    ) -> object:
        granted = None if override is None else Override(override, user, ("duplicate-dispense",))
        one = Dispense(wanted, patient, service_date=day, drug="jivi", override=granted)

        def attempt() -> list[int]:
            return self.shelf.dispense_all([one], user=user, today=self.today)

        unknown = [lot for lot in sorted(wanted) if lot not in self.on_hand]
        short = {lot for lot, n in wanted.items() if n > self.on_hand.get(lot, 0)}
        judged = max(self.today, day) if day is not None else self.today
        expired = [lot for lot in wanted if (e := EXPIRES[lot]) is not None and e < judged]
        twice = [
            d
            for d, vials in self.out.items()
            if patient is not None
            and day is not None
            and self.patient[d] == patient
            and self.service[d] == day
            and sum(vials.values()) > 0
        ]
        if unknown:
            with pytest.raises(InputError, match="a lot on the shelf"):
                attempt()
            return multiple()
        if short:
            with pytest.raises(StockChanged) as lost:
                attempt()
            assert set(lost.value.short) == short
            return multiple()
        if expired:
            with pytest.raises(InputError, match="expired on"):
                attempt()
            return multiple()
        if twice and granted is None:
            with pytest.raises(Stopped) as stopped:
                attempt()
            assert stopped.value.stop == "duplicate-dispense"
            return multiple()
        (made,) = attempt()
        for lot, n in wanted.items():
            self.on_hand[lot] -= n
        self.out[made] = dict(wanted)
        self.patient[made] = patient
        self.service[made] = day
        self.overrides[made] = granted
        return made

    @rule(given=dispenses, lot=st.sampled_from(LOT_IDS), count=st.integers(0, 4))
    def return_some(self, given: int, lot: str, count: int) -> None:
        still = self.out[given]
        if count == 0:
            with pytest.raises(InputError, match="a whole number of vials from 1"):
                self.shelf.return_vials(given, user="ana", lot=lot, count=count)
            return
        if lot not in still:
            with pytest.raises(InputError, match="a lot of dispense"):
                self.shelf.return_vials(given, user="ana", lot=lot, count=count)
            return
        if count > still[lot]:
            with pytest.raises(InputError, match="still out"):
                self.shelf.return_vials(given, user="ana", lot=lot, count=count)
            return
        assert self.shelf.return_vials(given, user="ana", lot=lot, count=count) == count
        still[lot] -= count
        self.on_hand[lot] += count

    @rule(given=dispenses)
    def return_all(self, given: int) -> None:
        back = sum(self.out[given].values())
        if not back:
            with pytest.raises(InputError, match="a dispense with vials still out"):
                self.shelf.return_vials(given, user="bo")
            return
        assert self.shelf.return_vials(given, user="bo") == back
        for lot, n in self.out[given].items():
            self.on_hand[lot] += n
            self.out[given][lot] = 0

    @rule(given=consumes(dispenses))
    def void(self, given: int) -> None:
        back = sum(self.out[given].values())
        if not back:
            with pytest.raises(InputError, match="a dispense with vials still out"):
                self.shelf.void(given, reason="entered in error", user="ana")
            return
        assert self.shelf.void(given, reason="entered in error", user="ana") == back
        for lot, n in self.out[given].items():
            self.on_hand[lot] += n
            self.out[given][lot] = 0

    @rule(lot=st.sampled_from(LOT_IDS), count=st.integers(1, 4))
    def waste(self, lot: str, count: int) -> None:
        if lot not in self.on_hand:
            with pytest.raises(InputError, match="a lot on the shelf"):
                self.shelf.waste(lot, count, reason="damaged", user="ana")
        elif count > self.on_hand[lot]:
            with pytest.raises(InputError, match="on hand"):
                self.shelf.waste(lot, count, reason="damaged", user="ana")
        else:
            self.shelf.waste(lot, count, reason="damaged", user="ana")
            self.on_hand[lot] -= count

    @invariant()
    def stock_is_the_model(self) -> None:
        if hasattr(self, "shelf"):
            assert {lot.lot: lot.count for lot in self.shelf.stock()} == self.on_hand

    @invariant()
    def no_vial_left_the_shelf_expired(self) -> None:
        """Every dispensed vial's lot was in date on the day it left the shelf and on
        its date of service."""
        if not hasattr(self, "shelf"):
            return
        query = (
            sa.select(lot_rows.c.expires, dispense_rows.c.left_on, dispense_rows.c.service_date)
            .select_from(
                movements.join(lot_rows, movements.c.lot_id == lot_rows.c.id).join(
                    dispense_rows, movements.c.dispense_id == dispense_rows.c.id
                )
            )
            .where(movements.c.kind == "dispense")
        )
        with self.shelf.engine.connect() as db:
            for expires, left_on, service in db.execute(query):
                assert left_on is not None
                assert expires is None or expires >= max(left_on, service or left_on)

    @invariant()
    def recall_is_every_dispense_with_vials_still_out(self) -> None:
        if not hasattr(self, "shelf"):
            return
        for lot in self.on_hand:
            expected = [
                (d, self.patient[d], vials[lot])
                for d, vials in sorted(self.out.items())
                if vials.get(lot, 0) > 0
            ]
            found = [(r.dispense_id, r.patient, r.vials) for r in self.shelf.recall(lot)]
            assert found == expected
            overrides = {r.dispense_id: r.override for r in self.shelf.recall(lot)}
            assert overrides == {d: self.overrides[d] for d, _, _ in expected}
        for lot in set(LOT_IDS) - set(self.on_hand):  # never received: not "no dispense"
            with pytest.raises(InputError, match="a lot on the shelf"):
                self.shelf.recall(lot)


def test_the_ledger_is_the_model_on_sqlite() -> None:
    run = Ledger.TestCase
    run.settings = settings(stateful_step_count=25)  # examples: the profile's
    run().runTest()


def test_the_ledger_is_the_model_on_postgresql() -> None:
    url = os.environ.get(PG_ENV)
    if not url:
        reason = f"no PostgreSQL server: set {PG_ENV} to an empty database (.ci/run starts one)"
        if os.environ.get("FACTORDOSE_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)

    class OnPostgres(Ledger):
        pass

    OnPostgres.url = url
    run = OnPostgres.TestCase
    run.settings = settings(stateful_step_count=20)  # examples: the profile's
    run().runTest()
