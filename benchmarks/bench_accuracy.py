"""Dispensing accuracy on a synthetic population, against the published figure.

Population (benchmarks/instances.py says where each number comes from):
adolescent and adult weights, prophylaxis doses of 30 to 60 IU/kg
(docs/billing.md section 5), Jivi's four nominal strengths (500, 1,000,
2,000, 3,000 IU) in three lots each, every lot labeled with its own potency
within ±8% of nominal, ten vials per lot, a fresh shelf every 50 doses.
Each dose is the closest whole-vial total (`optimizer.select`, closest first;
the window is opened wide so that the rare dose no combination brings within
±10% is counted where it lands, not dropped).

Published figure (Haemophilia 2011, docs/billing.md section 4): mean
deviation from the prescribed dose 2.4% with 4 vial strengths on hand, 1.2%
with 6.  Goal: at most 1.2% with only the 4 strengths.  Baseline: the common
hand method, largest vials first while the total stays under the top of the
window, on the same shelves.
"""

from __future__ import annotations

import random
import statistics
from fractions import Fraction
from pathlib import Path

from benchmarks.baselines import greedy_largest_first
from benchmarks.instances import JIVI_STRENGTHS, lot, patient_dose
from optimizer import Lot, Tolerance, select

TOLERANCE = Tolerance(Fraction(10), Fraction(10))
#: The closest whole-vial total, wherever it lands: the deviation measured.
CLOSEST = Tolerance(Fraction(60), Fraction(60))
PUBLISHED_4 = 2.4  # % mean deviation, 4 strengths (Haemophilia 2011)
PUBLISHED_6 = 1.2  # % with 6 strengths: the goal


def shelf(rng: random.Random) -> list[Lot]:
    return [lot(rng, f"S{s}L{k}", s, 10) for s in JIVI_STRENGTHS for k in range(3)]


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    rng = random.Random(2011)
    n = 1000 if quick else 20_000
    ours: list[float] = []
    vials: list[int] = []
    greedy: list[float] = []
    misses = 0
    lots = shelf(rng)
    for i in range(n):
        if i % 50 == 0:
            lots = shelf(rng)
        _, _, ordered = patient_dose(rng)
        result = select(ordered, lots, tolerance=CLOSEST, mode="whole_vials")
        assert result.selection is not None
        ours.append(abs(float(result.selection.deviation_pct)))
        vials.append(result.selection.vials)
        hand = greedy_largest_first(ordered, lots, TOLERANCE)
        if hand is None:
            misses += 1
        else:
            greedy.append(abs(float((hand - ordered) / ordered * 100)))

    def within(values: list[float], pct: float) -> str:
        return f"{sum(v <= pct for v in values) / len(values):.1%}"

    mean = statistics.mean(ours)
    rows = [
        (
            "factordose (optimal whole vials)",
            f"{mean:.2f}%",
            f"{statistics.median(ours):.2f}%",
            within(ours, 1),
            within(ours, 2),
            within(ours, 5),
            within(ours, 10),
            f"{statistics.mean(vials):.2f}",
        ),
        (
            "largest vials first (hand method)",
            f"{statistics.mean(greedy):.2f}%",
            f"{statistics.median(greedy):.2f}%",
            within(greedy, 1),
            within(greedy, 2),
            within(greedy, 5),
            within(greedy, 10),
            "-",
        ),
        ("published, 4 strengths", f"{PUBLISHED_4:.1f}%", "-", "-", "-", "-", "-", "-"),
        ("published, 6 strengths (goal)", f"{PUBLISHED_6:.1f}%", "-", "-", "-", "-", "-", "-"),
    ]
    images = [] if quick else [plot(ours, greedy, out_dir)]
    return {
        "title": f"Dispensing accuracy ({n:,} synthetic doses)",
        "columns": (
            "method",
            "mean abs. deviation",
            "median",
            "within 1%",
            "within 2%",
            "within 5%",
            "within 10%",
            "vials per dose",
        ),
        "rows": rows,
        "notes": [
            f"The hand method ended outside ±10% on {misses:,} of {n:,} doses "
            "(left out of its row)."
        ],
        "images": images,
        "headline": (
            f"dispensing accuracy: mean deviation {mean:.2f}% with Jivi's 4 strengths "
            f"(published: {PUBLISHED_4}% with 4, {PUBLISHED_6}% with 6), "
            f"{statistics.mean(vials):.2f} vials per dose"
        ),
    }


def plot(ours: list[float], greedy: list[float], out_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    bins = [i / 4 for i in range(0, 41)]
    axes.hist([min(v, 10) for v in ours], bins=bins, alpha=0.7, label="factordose")
    axes.hist([min(v, 10) for v in greedy], bins=bins, alpha=0.5, label="largest vials first")
    axes.axvline(PUBLISHED_4, color="k", linestyle="--", label="published mean, 4 strengths")
    axes.axvline(PUBLISHED_6, color="gray", linestyle=":", label="published mean, 6 strengths")
    axes.set_xlabel("|dispensed - ordered| / ordered (%)")
    axes.set_ylabel("doses")
    axes.set_title("Dispensing deviation, synthetic population")
    axes.legend()
    figure.tight_layout()
    name = "accuracy.png"
    figure.savefig(out_dir / name, dpi=110)
    plt.close(figure)
    return name
