"""factordose's numerical core: code sets, dose orders, billing units, claim lines.

The public surface (docs/design.md "Python API")::

    dosing.billing_units(amount, code, *, code_set=None)
    dosing.plan(order)
    dosing.plan_supply(request)     # many doses from one shelf, chosen together
"""

from importlib.metadata import PackageNotFoundError, version

from dosing.billing import (
    BillingCode,
    ClaimLine,
    CodeSet,
    Setting,
    billing_units,
    equivalent_units,
    load_code_set,
)
from dosing.errors import CodeSetError, DosingError, InputError, UnknownCodeError
from dosing.orders import Order, parse_order
from dosing.pipeline import Plan, plan
from dosing.supply import SupplyPlan, plan_supply

try:
    __version__ = version("factordose")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BillingCode",
    "ClaimLine",
    "CodeSet",
    "CodeSetError",
    "DosingError",
    "InputError",
    "Order",
    "Plan",
    "Setting",
    "SupplyPlan",
    "UnknownCodeError",
    "__version__",
    "billing_units",
    "equivalent_units",
    "load_code_set",
    "parse_order",
    "plan",
    "plan_supply",
]
