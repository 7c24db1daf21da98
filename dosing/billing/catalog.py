"""The product catalog: which drug a lot is, and what its label allows.

``data/catalog.csv`` lists the clotting-factor products marketed in the US, one
row each, with a ``source`` on every row (docs/billing.md section 8):

``product``        the catalog id (``jivi``); names and ids match case-insensitively
``billed_as``      the code-set ``product`` it is billed under: its own code's
                   (``jivi``) or a class code's (``fviii-recombinant-nos``, J7192)
``hcpcs_cms``,     its codes in the shipped sets (``;``-separated; checked against
``hcpcs_spec``     the sets by the tests)
``unit``           IU or mcg
``strengths``      nominal vial strengths, ``;``-separated
``volume_ml``      the diluent volume of the one package a source lists (its strength not
                   stated): for reference, never drawn by (strengths may differ)
``max_dose``,      the label's most per infusion and per kg, where it states one
``max_per_kg``
``min_age_years``  the youngest age the label is approved for, where it states one
``recovery``       expected rise in IU/dL per IU/kg given (Factor VIII 2; Factor IX
                   by label: BeneFIX 0.8, Idelvion 1.3)
``diagnoses``      ICD-10-CM codes of the label's indications (a claim's diagnosis
                   must start with one)
``ndcs``           package NDCs a public source lists; **never invented**: a product
                   without one has none, and its lots name the product instead
``rxcuis``         RxNorm concept ids a public source lists for the product (openFDA's
                   ``openfda.rxcui`` of its NDC), for EHR orders coded by RxNorm

A lot is identified (:meth:`Catalog.identify`) by its ``product`` or by its NDC,
through a CMS crosswalk when one is given (:mod:`dosing.billing.crosswalk`),
else through the catalog's NDCs.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources

from dosing.billing.codesets import BillingCode, CodeSet
from dosing.billing.ndc import normalize_ndc
from dosing.errors import InputError
from optimizer import Lot
from optimizer.errors import Described, FieldError
from optimizer.numbers import parse_number

__all__ = ["CATALOG_COLUMNS", "Catalog", "Identity", "Product", "load_catalog"]

CATALOG_COLUMNS = (
    "product",
    "name",
    "manufacturer",
    "factor",
    "billed_as",
    "hcpcs_cms",
    "hcpcs_spec",
    "unit",
    "strengths",
    "volume_ml",
    "max_dose",
    "max_per_kg",
    "min_age_years",
    "recovery",
    "diagnoses",
    "ndcs",
    "rxcuis",
    "source",
)


@dataclass(frozen=True)
class Product:
    """One catalog row (see the module docstring)."""

    id: str
    name: str
    manufacturer: str
    factor: str
    billed_as: str
    codes: Mapping[str, tuple[str, ...]]  # shipped code set -> its codes
    unit: str
    strengths: tuple[Fraction, ...]
    volume_ml: Fraction | None
    max_dose: Fraction | None
    max_per_kg: Fraction | None
    min_age_years: Fraction | None
    recovery: Fraction | None
    diagnoses: tuple[str, ...]
    ndcs: tuple[str, ...]  # 11 digits
    source: str
    rxcuis: tuple[str, ...] = ()

    def billed_under(self, code: BillingCode) -> bool:
        """Whether ``code`` bills this product (its own code or its class's)."""
        return code.product == self.billed_as and code.unit == self.unit

    def supports(self, diagnosis: str) -> bool:
        """Whether an ICD-10-CM code (with or without the dot) is one of the label's
        indications or a subcode of one."""
        undotted = diagnosis.replace(".", "").upper()
        return any(undotted.startswith(d.replace(".", "")) for d in self.diagnoses)


@dataclass(frozen=True)
class Identity:
    """What is known of a lot's drug: its product, or why it is not known."""

    product: Product | None
    #: how it was told: "product", "NDC (catalog)", "NDC (crosswalk J7192)"
    by: str = ""
    #: the code the crosswalk links the lot's NDC to, when that is how it was told
    crosswalk_code: str | None = None
    #: why the lot is set aside although identified ("" when it is not)
    conflict: str = ""


@dataclass(frozen=True)
class Catalog:
    """The products, by id, name and NDC."""

    products: tuple[Product, ...]
    _by_key: dict[str, Product] = field(default_factory=dict, repr=False)
    _by_ndc: dict[str, Product] = field(default_factory=dict, repr=False)
    _by_rxcui: dict[str, Product] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for product in self.products:
            for key in (product.id, product.name):
                self._by_key[_key(key)] = product
            for ndc in product.ndcs:
                self._by_ndc[ndc] = product
            for rxcui in product.rxcuis:
                self._by_rxcui[rxcui] = product

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products)

    def __len__(self) -> int:
        return len(self.products)

    def get(self, name: str) -> Product | None:
        """The product of an id or name (``jivi``, ``Jivi``, ``NovoSeven RT``,
        ``novoseven_rt``: case, spaces, hyphens and underscores do not matter)."""
        return self._by_key.get(_key(name))

    def lookup(self, name: str, field: str = "product") -> Product:
        """The product, or :class:`InputError` naming close matches."""
        found = self.get(name)
        if found is None:
            known = sorted(self._by_key)
            close = difflib.get_close_matches(_key(name), known, n=6)
            names = list(dict.fromkeys(self._by_key[c].name for c in close))[:3]
            hint = f" (close: {', '.join(names)})" if names else ""
            raise InputError(
                field,
                f"a product of the catalog (factordose catalog lists them){hint}",
                Described("a product the catalog does not list"),
            )
        return found

    def by_ndc(self, ndc: str) -> Product | None:
        """The product whose package NDC this is (any form), if the catalog lists it."""
        try:
            return self._by_ndc.get(normalize_ndc(ndc))
        except InputError:
            return None

    def by_rxcui(self, rxcui: str) -> Product | None:
        """The product an RxNorm concept id names, if the catalog lists it."""
        return self._by_rxcui.get(rxcui.strip())

    def for_code(self, code: BillingCode) -> list[Product]:
        """The products ``code`` bills."""
        return [p for p in self.products if p.billed_under(code)]

    def identify(
        self, lot: Lot, *, crosswalk: Mapping[str, str] | None = None, table: CodeSet | None = None
    ) -> Identity:
        """Which product ``lot`` is: named by its ``product`` (checked against its
        NDC when both are known), else told by its NDC: through ``crosswalk``
        (11-digit NDC -> HCPCS code, read by ``table``), else through the catalog.

        An unknown ``product`` name is refused (:class:`InputError`): a lot must
        not be given to a patient on a guess."""
        named = self.lookup(lot.product, f"lot {lot.lot}: product") if lot.product else None
        by_ndc, how, linked = None, "", None
        if lot.ndc is not None:
            ndc = normalize_ndc(lot.ndc, field=f"lot {lot.lot}: ndc")
            code = crosswalk.get(ndc) if crosswalk is not None else None
            if code is not None and table is not None and table.get(code) is not None:
                linked = code
                billed = table.lookup(code)
                candidates = self.for_code(billed)
                catalog_says = self._by_ndc.get(ndc)
                if catalog_says is not None and catalog_says in candidates:
                    by_ndc = catalog_says
                elif len(candidates) == 1:
                    by_ndc = candidates[0]
                how = f"NDC (crosswalk {code})"
            if by_ndc is None and linked is None:
                by_ndc = self._by_ndc.get(ndc)
                how = "NDC (catalog)"
        if named is not None:
            if linked is not None and table is not None:
                if not named.billed_under(table.lookup(linked)):
                    return Identity(
                        named,
                        "product",
                        linked,
                        conflict=f"its NDC is {linked}'s in the crosswalk, but it is labeled "
                        f"{named.name}",
                    )
            elif by_ndc is not None and by_ndc is not named:
                return Identity(
                    named,
                    "product",
                    conflict=f"its NDC is {by_ndc.name}'s, but it is labeled {named.name}",
                )
            return Identity(named, "product", linked)
        return Identity(by_ndc, how if by_ndc is not None or linked else "", linked)


def _key(name: str) -> str:
    """A product name as looked up: lower case, hyphens and underscores as spaces."""
    return " ".join(name.replace("_", " ").replace("-", " ").split()).lower()


@functools.cache
def load_catalog() -> Catalog:
    """The shipped catalog (parsed once)."""
    text = resources.files("dosing.billing").joinpath("data", "catalog.csv").read_text("utf-8")
    return parse_catalog(text, "catalog.csv")


def parse_catalog(text: str, name: str) -> Catalog:
    """A catalog from CSV text; every problem names the row and column."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in CATALOG_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{name} header", "the catalog columns", ", ".join(missing))
    products = []
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        where = f"{name} row {number}"

        def cell(column: str, row: dict[str, str] = row) -> str:
            return (row.get(column) or "").strip()

        def number_or_none(column: str, where: str = where) -> Fraction | None:
            text = cell(column)
            if not text:
                return None
            try:
                value = parse_number(text, f"{where}, column {column}", error=InputError)
            except FieldError as exc:
                raise InputError(exc.field, exc.expected, exc.got) from None
            if value <= 0:
                raise InputError(f"{where}, column {column}", "a number > 0", text)
            return value

        def listed(column: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in cell(column).split(";") if part.strip())

        product_id = cell("product").lower()
        for column in ("product", "name", "factor", "billed_as", "unit", "source"):
            if not cell(column):
                raise InputError(f"{where}, column {column}", "filled in", "an empty cell")
        if product_id in seen:
            raise InputError(f"{where}, column product", "listed once", product_id)
        seen.add(product_id)
        strengths = []
        for part in listed("strengths"):
            value = parse_number(part, f"{where}, column strengths", error=InputError)
            if value <= 0:
                raise InputError(f"{where}, column strengths", "amounts > 0", part)
            strengths.append(value)
        products.append(
            Product(
                id=product_id,
                name=cell("name"),
                manufacturer=cell("manufacturer"),
                factor=cell("factor"),
                billed_as=cell("billed_as"),
                codes={"cms": listed("hcpcs_cms"), "spec": listed("hcpcs_spec")},
                unit=cell("unit"),
                strengths=tuple(strengths),
                volume_ml=number_or_none("volume_ml"),
                max_dose=number_or_none("max_dose"),
                max_per_kg=number_or_none("max_per_kg"),
                min_age_years=number_or_none("min_age_years"),
                recovery=number_or_none("recovery"),
                diagnoses=listed("diagnoses"),
                ndcs=tuple(normalize_ndc(n, field=f"{where}, column ndcs") for n in listed("ndcs")),
                source=cell("source"),
                rxcuis=_rxcuis(listed("rxcuis"), f"{where}, column rxcuis"),
            )
        )
    return Catalog(tuple(products))


def _rxcuis(values: tuple[str, ...], where: str) -> tuple[str, ...]:
    for value in values:
        if not value.isascii() or not value.isdigit() or len(value) > 12:
            raise InputError(where, "RxNorm concept ids (digits)", Described("another"))
    return values
