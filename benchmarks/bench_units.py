"""``billing_units`` on 10 million amounts against a bare ``numpy.ceil``.

The baseline, ``np.ceil(amounts / 250)``, is the naive vectorized answer with
no checks; ``dosing.billing_units`` also validates every element (finite, > 0)
and returns int64.  Goal: within 2x of the baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.timing import interleaved, median, ms
from dosing import billing_units


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    size = 1_000_000 if quick else 10_000_000
    rng = np.random.default_rng(2026)
    # doses of 250-6,000 IU with one decimal, as typed
    amounts = np.round(rng.uniform(250, 6000, size), 1)
    assert (billing_units(amounts, "J7212") == np.ceil(amounts / 250)).all()
    times = interleaved(
        {
            "numpy.ceil(amounts / 250)": lambda: np.ceil(amounts / 250),
            "dosing.billing_units": lambda: billing_units(amounts, "J7212"),
        },
        repeats=5 if quick else 15,
    )
    base = median(times["numpy.ceil(amounts / 250)"])
    ours = median(times["dosing.billing_units"])
    return {
        "title": f"billing_units on {size:,} amounts",
        "rows": [
            ("numpy.ceil(amounts / 250) (baseline)", ms(base), "1.00x"),
            ("dosing.billing_units(amounts, 'J7212')", ms(ours), f"{ours / base:.2f}x"),
        ],
        "columns": ("method", "median", "vs baseline"),
        "ratio": ours / base,
        "headline": f"billing_units on {size:,} amounts: {ours / base:.2f}x a bare numpy.ceil",
    }
