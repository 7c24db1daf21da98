"""Supply planning: many doses from one shelf, chosen together.

:func:`plan_supply` (:mod:`optimizer.supply.plan`) runs the lexicographic
stages on one of three formulations: enumerated patterns
(:mod:`~optimizer.supply.patterns`), column generation
(:mod:`~optimizer.supply.columns`) or one variable per dose and lot
(:mod:`~optimizer.supply.vials`), all over the supply scaled to integers
(:mod:`~optimizer.supply.scaled`).  :func:`sequential` is the baseline: each
dose alone, in order.
"""

from optimizer.supply.plan import MODELS, STAGES, TAKEN_BY_OTHERS, plan_supply
from optimizer.supply.result import DoseRequest, StageReport, SupplyResult
from optimizer.supply.sequential import sequential

__all__ = [
    "MODELS",
    "STAGES",
    "TAKEN_BY_OTHERS",
    "DoseRequest",
    "StageReport",
    "SupplyResult",
    "plan_supply",
    "sequential",
]
