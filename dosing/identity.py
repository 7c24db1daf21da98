"""Drug identity: which lots on the shelf are the ordered drug (docs/billing.md section 8).

Every lot is identified by its ``product`` or its NDC (:mod:`dosing.billing.catalog`,
through a CMS crosswalk when one is given).  For an ordered code:

* a lot of a product the code bills is used;
* a lot identified as another product, or whose NDC and product disagree, is
  set aside with a warning naming both, as expired lots are;
* a lot that cannot be identified (no product, an NDC neither the catalog nor
  the crosswalk lists) is used with a warning that its identity was not
  verified; when the order names a ``product``, it is set aside instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dosing.billing.catalog import Catalog, Product, load_catalog
from dosing.billing.codesets import BillingCode, load_code_set
from dosing.billing.crosswalk import Crosswalk
from dosing.errors import InputError
from optimizer import Lot
from optimizer.errors import Described

__all__ = ["SortedShelf", "sort_shelf"]


@dataclass(frozen=True)
class SortedShelf:
    """The lots for one ordered code: used, set aside (with why), unverified."""

    usable: tuple[Lot, ...]
    set_aside: tuple[tuple[Lot, str], ...]  # the lot, and what it is
    unverified: tuple[Lot, ...]
    ordered: str  # the ordered drug in words: "Jivi (J7208)"
    #: the catalog product of each identified lot, by lot id
    products: Mapping[str, Product] = field(default_factory=dict)
    #: anything else the plan should say about the shelf
    notes: tuple[str, ...] = ()
    #: when the lots set aside are billed under the ordered code in another set
    hint: str = ""

    def warnings(self, *, unverified: bool = True) -> list[str]:
        """What the plan says of the shelf; ``unverified=False`` leaves out the
        note on lots of unverified identity (a stop says it instead)."""
        by_what: dict[str, list[str]] = {}
        for lot, what in self.set_aside:
            by_what.setdefault(what, []).append(lot.lot)
        notes = [
            f"lot {lots[0]} is {what}" if len(lots) == 1 else f"lots {', '.join(lots)} are {what}"
            for what, lots in by_what.items()
        ]
        notes = [f"{note}, not the ordered {self.ordered}: set aside" for note in notes]
        notes += self.notes
        if self.unverified and unverified:
            notes.append(self.unverified_note(self.unverified))
        return notes

    def unverified_note(self, lots: Sequence[Lot]) -> str:
        """What is said of ``lots``, of unverified identity, used as the ordered drug."""
        names = ", ".join(lot.lot for lot in lots)
        return (
            f"lot{'s' * (len(lots) != 1)} {names}: identity not verified (no "
            "product named, and no NDC the catalog or the crosswalk lists): used "
            f"as {self.ordered}; check the label"
        )

    def reason(self) -> str:
        """Why nothing on the shelf can be used ("" when something can)."""
        if self.usable or not self.set_aside:
            return ""
        found = sorted({what for _, what in self.set_aside})
        return f"no lots of {self.ordered} on the shelf: it holds {'; '.join(found)}{self.hint}"


def sort_shelf(
    lots: Sequence[Lot],
    code: BillingCode,
    *,
    product: str | None = None,
    crosswalk: Crosswalk | None = None,
    catalog: Catalog | None = None,
) -> SortedShelf:
    """The lots of ``code``'s drug (and of ``product``, when the order names one)."""
    catalog = catalog or load_catalog()
    cms = load_code_set("cms")
    wanted: Product | None = catalog.lookup(product) if product else None
    names = catalog.for_code(code)
    if wanted is not None and not wanted.billed_under(code):
        codes = "/".join(wanted.codes.get("cms", ())) or "another code"
        billed = ", ".join(p.name for p in names) or "no catalog product"
        raise InputError(
            "product",
            f"a product {code.code} bills ({billed})",
            Described(f"{wanted.name}, billed as {codes}"),
        )
    label = wanted.name if wanted else (names[0].name if len(names) == 1 else code.descriptor)
    ordered = f"{label} ({code.code})"
    usable, aside, unverified = [], [], []
    products: dict[str, Product] = {}
    for lot in lots:
        identity = catalog.identify(
            lot, crosswalk=crosswalk.codes if crosswalk else None, table=cms
        )
        found = identity.product
        if found is not None and not identity.conflict:
            products[lot.lot] = found
        if identity.conflict:
            aside.append((lot, f"in doubt ({identity.conflict})"))
        elif found is not None:
            if found.billed_under(code) and (wanted is None or found is wanted):
                usable.append(lot)
            else:
                aside.append((lot, f"{found.name} ({_codes(found)})"))
        elif identity.crosswalk_code is not None:
            linked = cms.lookup(identity.crosswalk_code)
            if linked.product == code.product and linked.unit == code.unit and wanted is None:
                usable.append(lot)
            else:
                aside.append((lot, f"{linked.descriptor} ({linked.code}, by the crosswalk)"))
        elif wanted is not None:
            aside.append((lot, "of unverified identity, and the order names a product"))
        else:
            unverified.append(lot)
            usable.append(lot)
    hint = ""
    for lot, _ in aside:
        other = products.get(lot.lot)
        if other is None or other.billed_under(code):
            continue
        for set_name, listed in other.codes.items():
            if code.code in listed:  # the same code number, another code set's drug
                hint = (
                    f"; the {set_name} code set bills {code.code} as {other.name}: "
                    'check the order\'s "code_set"'
                )
    return SortedShelf(tuple(usable), tuple(aside), tuple(unverified), ordered, products, hint=hint)


def _codes(product: Product) -> str:
    return "/".join(product.codes.get("cms", ())) or product.billed_as
