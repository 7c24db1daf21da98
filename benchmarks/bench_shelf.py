"""The shelf: dispensing from the ledger, and recall on a large one.

Dispensing is `dosing.shelf.plan_order` with a dispensing user on SQLite: the
stock read from the ledger, the order planned, and the vials recorded in one
transaction that reads the chosen lots' stock again.  It runs in 1 and in 4
writer processes at once on one database file (a shelf of 8 lots with vials
enough never to run out), each process dispensing its share of the orders;
the baseline is `dosing.plan` of such orders in process with the same
lots given to it (`inventory=`), no database, measured in the same run.  Recall is
`Shelf.recall` of one lot on a ledger of 1,000,000 movements (2,000 lots,
200,000 dispenses of 5 vials' movements each), with the ledger's index on
movements by lot, and without it (the index dropped from a copy) as the
baseline.
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import sqlite3
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.instances import prophylaxis_order, shelf
from benchmarks.timing import interleaved, median
from dosing import plan
from dosing.shelf import open_shelf, plan_order
from optimizer.inventory import with_count

#: Jivi's labeled most per infusion (the catalog's max_dose): doses above it are stops
JIVI_MAX_DOSE = 6000


def _orders(seed: int, n: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    orders = []
    while len(orders) < n:
        order = prophylaxis_order(rng)
        if float(order["weight_kg"]) * int(order["dose_per_kg"]) > JIVI_MAX_DOSE:  # type: ignore[arg-type]
            continue  # over the label: a stop at the bench, not a dispense to time
        # one dispense a patient: a second the same day would be a stop (dosing.stops)
        orders.append({**order, "patient_id": f"P-{seed}-{len(orders)}"})
    return orders


def _writer(url: str, seed: int, n: int, ready: Any, out: Any) -> None:
    shelf_ = open_shelf(url)
    orders = _orders(seed, n)
    plan_order(shelf_, orders[0])  # imports and the first connection before the clock
    ready.wait()  # every writer and the clock start together
    done = sum(bool(plan_order(shelf_, o, user=f"rx{seed}").dispense_ids) for o in orders)
    out.put(done)


def dispenses_per_second(url: str, writers: int, each: int) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    ready, out = context.Barrier(writers + 1), context.Queue()
    processes = [
        context.Process(target=_writer, args=(url, seed, each, ready, out))
        for seed in range(writers)
    ]
    for process in processes:
        process.start()
    ready.wait(timeout=300)
    began = time.perf_counter()
    done = sum(out.get(timeout=1200) for _ in processes)
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join(timeout=60)
    return done / elapsed, done


def build_ledger(path: Path, movements: int) -> None:
    """A ledger of ``movements`` movements, written through the shipped schema."""
    open_shelf(f"sqlite:///{path}").close()  # the migrations make the tables
    lots_n, per = 2000, 5
    dispenses_n = movements // per
    rng = random.Random(5)
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO lots (id, site, lot, product, amount) VALUES (?, '', ?, 'Jivi', '1000')",
            [(i + 1, f"LOT{i:05d}") for i in range(lots_n)],
        )
        db.executemany(
            "INSERT INTO dispenses (id, site, user, patient, at) "
            "VALUES (?, '', 'rx', ?, '2026-11-26 10:00:00')",
            [(d + 1, f"P-{rng.randint(1, 20000)}") for d in range(dispenses_n)],
        )
        db.executemany(  # enough vials received first: the balance never goes below zero
            "INSERT INTO movements (lot_id, kind, quantity, user, at) "
            "VALUES (?, 'receive', ?, 'rx', '2026-11-01 10:00:00')",
            [(i + 1, movements) for i in range(lots_n)],
        )
        db.executemany(
            "INSERT INTO movements (lot_id, kind, quantity, user, patient, dispense_id, at) "
            "VALUES (?, 'dispense', -1, 'rx', NULL, ?, '2026-11-26 10:00:00')",
            ((rng.randint(1, lots_n), d + 1) for d in range(dispenses_n) for _ in range(per)),
        )
    db.close()


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    each = 40 if quick else 400
    movements = 20_000 if quick else 1_000_000
    rng = random.Random(3)
    lots = [replace(with_count(lot, 100_000), product="Jivi") for lot in shelf(rng, 8, 1)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rates = {}
        for writers in (1, 4):
            url = f"sqlite:///{folder / f'shelf{writers}.db'}"
            ledger = open_shelf(url)
            ledger.receive(lots, user="receiving")
            ledger.close()
            rates[writers] = dispenses_per_second(url, writers, each)
        orders = _orders(99, each)
        started = time.perf_counter()
        for order in orders:
            plan(order, inventory=lots)
        plain = each / (time.perf_counter() - started)

        indexed = folder / "ledger.db"
        build_ledger(indexed, movements)
        bare = folder / "bare.db"
        shutil.copy(indexed, bare)
        with sqlite3.connect(bare) as db:
            db.execute("DROP INDEX movements_lot")
        fast, slow = open_shelf(f"sqlite:///{indexed}"), open_shelf(f"sqlite:///{bare}")
        probe = [f"LOT{i:05d}" for i in random.Random(8).sample(range(2000), 20)]
        found = {len(fast.recall(lot)) for lot in probe[:3]}
        assert found and min(found) > 0 and fast.recall(probe[0]) == slow.recall(probe[0])
        times = interleaved(
            {
                "index": lambda: [fast.recall(lot) for lot in probe],
                "scan": lambda: [slow.recall(lot) for lot in probe],
            },
            repeats=3 if quick else 5,
        )
        fast.close()
        slow.close()
    with_index = median(times["index"]) / len(probe)
    without = median(times["scan"]) / len(probe)
    one, four = rates[1][0], rates[4][0]
    return {
        "title": "Shelf: dispensing and recall (SQLite)",
        "columns": ("measure", "factordose", "baseline", "ratio"),
        "rows": [
            (
                f"plan + dispense, 1 writer ({rates[1][1]:,} dispenses)",
                f"{one:,.0f} dispenses/s",
                f"`dosing.plan`, no database: {plain:,.0f} orders/s",
                f"{one / plain:.2f}x",
            ),
            (
                f"plan + dispense, 4 writer processes ({rates[4][1]:,} dispenses)",
                f"{four:,.0f} dispenses/s",
                f"`dosing.plan`, no database: {plain:,.0f} orders/s",
                f"{four / plain:.2f}x",
            ),
            (
                f"recall of one lot, {movements:,} movements",
                f"{with_index * 1e3:.2f} ms (index on movements by lot)",
                f"{without * 1e3:.1f} ms (no index: a full scan)",
                f"{without / with_index:.0f}x faster",
            ),
        ],
        "headline": (
            f"shelf: {one:,.0f} dispenses/s with 1 writer, {four:,.0f} with 4 "
            f"({one / plain:.2f}x and {four / plain:.2f}x plain planning); recall on "
            f"{movements:,} movements {with_index * 1e3:.2f} ms"
        ),
        "notes": [
            "Writers on SQLite take turns (one write transaction at a time, WAL); "
            "planning runs in parallel, on the machine's 2 cores.",
        ],
    }
