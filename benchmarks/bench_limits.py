"""Time limits held on the largest requests: wall time against the limit, and peak memory.

Each case runs in a child process of its own (so that its peak memory is its
own) and reports the wall time of the whole request against its
``time_limit``, beside the limit itself as the baseline (ratio = wall / limit).
Cases: a 1,000,000 IU order from 5,000 lots (the exact path's table would need
16 GB; CP-SAT answers within the limit), and supplies of 400 to 2,000 doses
from 1,000 to 5,000 lots (past a size the joint model cannot be built in
time and the doses planned one after another are returned, each unplanned one
saying why).  ``--quick`` runs one small case of each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

#: (label, kind, seed, size, lots, time limit)
CASES = (
    ("order 1,000,000 IU, 5,000 lots", "plan", 1, 10**6, 5000, 10),
    ("supply 400 doses, 1,000 lots", "supply", 3, 400, 1000, 5),
    ("supply 1,000 doses, 1,000 lots", "supply", 5, 1000, 1000, 5),
    ("supply 1,000 doses, 1,000 lots, 2 s", "supply", 5, 1000, 1000, 2),
    ("supply 2,000 doses, 2,000 lots", "supply", 6, 2000, 2000, 5),
    ("supply 300 doses, 5,000 lots", "supply", 8, 300, 5000, 5),
)
QUICK = (
    ("order 100,000 IU, 500 lots", "plan", 1, 10**5, 500, 2),
    ("supply 100 doses, 100 lots", "supply", 3, 100, 100, 2),
)

CHILD = textwrap.dedent(
    """
    import json, random, resource, sys, time
    from benchmarks.bench_supply import day
    import dosing
    kind, seed, size, lots_n, limit = json.loads(sys.argv[1])
    rng = random.Random(seed)
    if kind == "plan":
        inventory = [
            {"lot": f"L{i}", "amount": rng.choice([500, 1000, 2000, 3000]) + rng.randint(-80, 80),
             "count": rng.randint(1, 9)}
            for i in range(lots_n)
        ]
        request = {"code": "J7208", "dose": size, "tolerance_pct": 5, "mode": "whole_vials",
                   "inventory": inventory, "time_limit": limit}
        started = time.monotonic()
        answer = dosing.plan(request)
        status = answer.status
    else:
        doses, shelf = day(rng, size, lots_n)
        request = {
            "doses": [{"code": "J7208", "dose": float(d.target), "tolerance_pct": 5,
                       "patient_id": d.patient} for d in doses],
            "inventory": [{"lot": x.lot, "amount": int(x.amount), "count": x.count}
                          for x in shelf],
            "time_limit": limit,
        }
        started = time.monotonic()
        supply = dosing.plan_supply(request)
        status = f"{supply.result.met}/{size} met, {supply.result.engine}"
    wall = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak": peak, "status": status}))
    """
)


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    rows = []
    worst = 0.0
    root = Path(__file__).resolve().parent.parent
    for label, kind, seed, size, lots, limit in QUICK if quick else CASES:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps([kind, seed, size, lots, limit])],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        over = measured["wall"] - limit
        worst = max(worst, over)
        rows.append(
            (
                label,
                f"{limit} s",
                f"{measured['wall']:.2f} s",
                f"{over:+.2f} s",
                f"{measured['wall'] / limit:.2f}x",
                f"{measured['peak']:.0f} MiB",
                measured["status"],
            )
        )
    return {
        "title": "Time limits on the largest requests",
        "rows": rows,
        "columns": (
            "request",
            "time_limit",
            "wall",
            "over the limit",
            "vs limit",
            "peak",
            "answer",
        ),
        "headline": f"largest requests: at most {worst:+.2f} s past their time limit",
    }
