"""Synthetic instances with their provenance.

Vials: Jivi's four nominal strengths, 500, 1,000, 2,000 and 3,000 IU
(docs/billing.md section 5), each lot labeled with an actual potency spread
around nominal (uniform within ±8%, the spread seen on assayed factor labels
such as 1,000 IU labeled 1,063 IU in section 4).

Patients: adolescents and adults (Jivi is labeled for age 12 and over),
weights drawn from a normal distribution with mean 75 kg and standard
deviation 17 kg, clipped to 35-150 kg (an assumption in the range of adult
and adolescent body weights, stated here, not a published figure); doses of
30 to 60 IU/kg (section 5: prophylaxis 30-40 IU/kg twice weekly, or 45-60
IU/kg every 5 days), drawn uniformly and rounded to whole IU/kg.
"""

from __future__ import annotations

import random
from fractions import Fraction

from optimizer import Lot

JIVI_STRENGTHS = (500, 1000, 2000, 3000)


def lot(rng: random.Random, name: str, nominal: int, count: int, spread: float = 0.08) -> Lot:
    amount = round(nominal * (1 + rng.uniform(-spread, spread)))
    return Lot(name, Fraction(amount), count)


def shelf(
    rng: random.Random, lots: int, count: int, strengths: tuple[int, ...] = JIVI_STRENGTHS
) -> list[Lot]:
    """``lots`` lots cycling through the strengths, ``count`` vials each."""
    return [lot(rng, f"L{i}", strengths[i % len(strengths)], count) for i in range(lots)]


def patient_dose(rng: random.Random) -> tuple[Fraction, Fraction, Fraction]:
    """(weight kg, IU/kg, ordered IU) for one synthetic prophylaxis dose."""
    weight = Fraction(round(min(150.0, max(35.0, rng.gauss(75, 17))), 1)).limit_denominator(10)
    per_kg = Fraction(rng.randint(30, 60))
    return weight, per_kg, weight * per_kg


def prophylaxis_order(rng: random.Random, code: str = "J7212") -> dict[str, object]:
    """The order JSON of one synthetic prophylaxis dose of Jivi (no lots named)."""
    weight, per_kg, _ = patient_dose(rng)
    return {
        "code": code,
        "weight_kg": float(weight),
        "dose_per_kg": int(per_kg),
        "date_of_service": "2026-11-26",
    }
