"""A scanned package as a lot: its NDC from the GTIN, its drug from the catalog.

The barcode gives the GTIN, lot, expiry and serial (:mod:`dosing.shelf.gs1`);
the label potency is typed in.  The GTIN's ten NDC digits fit three 11-digit
NDCs; the one the catalog lists is taken, or the ``ndc`` given with the scan,
which must be one of the three.  A lot without its lot number or expiry in the
barcode is refused: a vial on the shelf must be traceable and dated; so is one
without its serial, since the serial is what stops a package being received
twice (and a scanner that dropped its GS separators runs the serial into the
lot, where only its absence shows).
"""

from __future__ import annotations

from fractions import Fraction

from dosing.billing.catalog import Catalog, load_catalog
from dosing.billing.ndc import normalize_ndc
from dosing.errors import InputError
from dosing.shelf.gs1 import Scan
from optimizer import Lot
from optimizer.errors import Described, FieldError

__all__ = ["lot_from_scan"]


def lot_from_scan(
    scan: Scan,
    *,
    amount: Fraction,
    count: int = 1,
    ndc: str | None = None,
    product: str | None = None,
    volume_ml: Fraction | None = None,
    catalog: Catalog | None = None,
) -> Lot:
    """The lot of ``count`` vials of ``amount`` each that ``scan`` reads from."""
    catalog = catalog or load_catalog()
    if scan.lot is None:
        raise InputError("scan (10)", "a lot number, AI (10)", Described("a scan without one"))
    if scan.expires is None:
        raise InputError("scan (17)", "an expiry date, AI (17)", Described("a scan without one"))
    if scan.serial is None:  # also what a scan that lost its GS separators looks like
        raise InputError(
            "scan (21)",
            "a serial number, AI (21): scan the package again (a scan that lost its "
            "separators runs the serial into the lot)",
            Described("a scan without one"),
        )
    candidates = scan.ndc_candidates
    if ndc is not None:
        ndc = normalize_ndc(ndc, field="ndc")
        if candidates and ndc not in candidates:
            raise InputError(
                "ndc",
                f"the NDC in the scanned GTIN ({' or '.join(_dashed(c) for c in candidates)})",
                Described("another NDC"),
            )
    else:
        known = [c for c in candidates if catalog.by_ndc(c) is not None]
        if len(known) != 1:
            where = (
                f"one of {', '.join(_dashed(c) for c in candidates)}"
                if candidates
                else "the package NDC: this GTIN is not a US drug's"
            )
            raise InputError("ndc", f"the NDC given with the scan ({where})", Described("none"))
        ndc = known[0]
    listed = catalog.by_ndc(ndc)
    named = catalog.lookup(product) if product is not None else None
    if named is not None and listed is not None and named is not listed:
        raise InputError(
            "product", f"{listed.name}, the drug of NDC {_dashed(ndc)}", Described(named.name)
        )
    drug = named or listed
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError("count", "a whole number of vials >= 1", count)
    try:
        return Lot(
            lot=scan.lot,
            amount=amount,
            count=count,
            ndc=ndc,
            expires=scan.expires,
            product=drug.name if drug is not None else None,
            volume_ml=volume_ml,
        )
    except FieldError as exc:  # the optimizer's lot checks: same shape, our type
        raise InputError(exc.field, exc.expected, exc.got) from None


def _dashed(ndc: str) -> str:
    """An 11-digit NDC as 5-4-2."""
    return f"{ndc[:5]}-{ndc[5:9]}-{ndc[9:]}"
