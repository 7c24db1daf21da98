"""The ledger against a plain in-memory model (hypothesis stateful testing):
receive, dispense, return, void and waste in any order leave the same stock,
recall and refusals as a few dictionaries do."""

from __future__ import annotations

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
from dosing.shelf import Shelf, StockChanged, open_shelf
from optimizer import Lot
from tests.shelf.conftest import PG_ENV

LOT_IDS = ("A", "B", "C")
USERS = st.sampled_from(("ana", "bo"))
PATIENTS = st.sampled_from(("P1", "P2", None))


class Ledger(RuleBasedStateMachine):
    """The shelf as the model sees it: vials on hand per lot, and per dispense
    what went out and is still out (net of returns and voids)."""

    url = ""  # set by the test that runs the machine
    dispenses = Bundle("dispenses")

    @initialize()
    def open(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        url = self.url or f"sqlite:///{os.path.join(self.folder.name, 'shelf.db')}"
        if self.url:  # an empty PostgreSQL database for every run
            engine = sa.create_engine(url)
            with engine.begin() as db:
                db.execute(sa.text("DROP SCHEMA public CASCADE"))
                db.execute(sa.text("CREATE SCHEMA public"))
            engine.dispose()
        self.shelf: Shelf = open_shelf(url)
        self.on_hand: dict[str, int] = {}
        self.out: dict[int, dict[str, int]] = {}  # dispense -> lot -> vials still out
        self.patient: dict[int, str | None] = {}

    def teardown(self) -> None:
        if hasattr(self, "shelf"):
            self.shelf.close()
            self.folder.cleanup()

    @rule(lot=st.sampled_from(LOT_IDS), count=st.integers(0, 5), user=USERS)
    def receive(self, lot: str, count: int, user: str) -> None:
        self.shelf.receive([Lot(lot, Fraction(500), count, product="Jivi")], user=user)
        self.on_hand[lot] = self.on_hand.get(lot, 0) + count

    @rule(
        target=dispenses,
        wanted=st.dictionaries(st.sampled_from(LOT_IDS), st.integers(1, 4), min_size=1),
        user=USERS,
        patient=PATIENTS,
    )
    def dispense(self, wanted: dict[str, int], user: str, patient: str | None) -> object:
        unknown = [lot for lot in sorted(wanted) if lot not in self.on_hand]
        short = {lot for lot, n in wanted.items() if n > self.on_hand.get(lot, 0)}
        if unknown:
            with pytest.raises(InputError, match="a lot on the shelf"):
                self.shelf.dispense(wanted, user=user, patient=patient)
            return multiple()
        if short:
            with pytest.raises(StockChanged) as lost:
                self.shelf.dispense(wanted, user=user, patient=patient)
            assert set(lost.value.short) == short
            return multiple()
        made = self.shelf.dispense(wanted, user=user, patient=patient)
        for lot, n in wanted.items():
            self.on_hand[lot] -= n
        self.out[made] = dict(wanted)
        self.patient[made] = patient
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
        for lot in set(LOT_IDS) - set(self.on_hand):  # never received: not "no dispense"
            with pytest.raises(InputError, match="a lot on the shelf"):
                self.shelf.recall(lot)


def test_the_ledger_is_the_model_on_sqlite() -> None:
    run = Ledger.TestCase
    run.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
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
    run.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
    run().runTest()
