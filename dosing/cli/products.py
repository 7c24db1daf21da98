"""``factordose catalog`` and ``factordose crosswalk``: the drugs a lot can be."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from dosing.billing.catalog import Product, load_catalog
from dosing.billing.codesets import load_code_set
from dosing.billing.crosswalk import Crosswalk, read_crosswalk
from dosing.billing.mue import Mue, read_mue_table
from dosing.cli.report import Exit, Report
from dosing.errors import DosingError, InputError
from optimizer.errors import Described
from optimizer.numbers import counted, format_amount, to_json_number

__all__ = ["add_billing_files", "crosswalk_arg", "mue_arg", "register"]


def crosswalk_arg(text: str) -> Crosswalk:
    """``--crosswalk FILE``: the CMS NDC-HCPCS crosswalk, read once (argparse shows
    only an ArgumentTypeError's own message)."""
    try:
        return read_crosswalk(Path(text))
    except DosingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def mue_arg(text: str) -> Mapping[str, Mue]:
    """``--mue FILE``: a CMS MUE table, read once."""
    try:
        return read_mue_table(Path(text))
    except DosingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_billing_files(parser: argparse.ArgumentParser) -> None:
    """``--crosswalk FILE`` and ``--mue FILE``, for every command that plans or checks."""
    parser.add_argument(
        "--crosswalk",
        type=crosswalk_arg,
        metavar="FILE",
        help="the CMS NDC-HCPCS crosswalk CSV: tells each lot's drug by its NDC",
    )
    parser.add_argument(
        "--mue",
        type=mue_arg,
        metavar="FILE",
        help="a CMS MUE table CSV: its values apply over the payer profile's",
    )


def register(commands: Any) -> None:
    catalog = commands.add_parser(
        "catalog",
        help="the product catalog: codes, strengths, label limits, NDCs",
        description="List the clotting-factor products the catalog knows, or one of them.",
    )
    catalog.add_argument("product", nargs="?", help="a product name or id (default: all)")
    catalog.add_argument("--json", action="store_true", help="print JSON")
    catalog.set_defaults(run=run_catalog)

    crosswalk = commands.add_parser(
        "crosswalk",
        help="check a CMS NDC-HCPCS crosswalk file against the catalog",
        description="Read a CMS ASP NDC-HCPCS crosswalk CSV (as published each quarter) "
        "and report, for the clotting-factor codes, which NDCs it links to which code and "
        "where it and the catalog disagree. Pass the same file to plan, supply and check "
        "with --crosswalk. Exit 1 when they disagree.",
    )
    crosswalk.add_argument("file", help="the crosswalk CSV")
    crosswalk.add_argument("--json", action="store_true", help="print JSON")
    crosswalk.set_defaults(run=run_crosswalk)


def product_json(product: Product) -> dict[str, object]:
    def number(value: object) -> object:
        return None if value is None else to_json_number(value)  # type: ignore[arg-type]

    return {
        "product": product.id,
        "name": product.name,
        "manufacturer": product.manufacturer,
        "factor": product.factor,
        "codes": {name: list(codes) for name, codes in product.codes.items()},
        "unit": product.unit,
        "strengths": [to_json_number(s) for s in product.strengths],
        "volume_ml": number(product.volume_ml),
        "max_dose": number(product.max_dose),
        "max_per_kg": number(product.max_per_kg),
        "min_age_years": number(product.min_age_years),
        "recovery": number(product.recovery),
        "diagnoses": list(product.diagnoses),
        "ndcs": list(product.ndcs),
        "rxcuis": list(product.rxcuis),
        "source": product.source,
    }


def run_catalog(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    catalog = load_catalog()
    if args.product is not None and not args.product.strip():
        raise InputError(
            "product", "a product name or id, or none for all", Described("an empty name")
        )
    code = load_code_set("cms").get(args.product) if args.product else None
    if code is not None:  # a HCPCS code: the products it bills
        products = catalog.for_code(code)
    else:
        products = [catalog.lookup(args.product)] if args.product else list(catalog)
    if args.json:
        print(json.dumps([product_json(p) for p in products]), file=out)
        return
    if args.product and code is None:
        product = products[0]
        for key, value in product_json(product).items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            if isinstance(value, dict):
                shown = "; ".join(f"{k} {', '.join(v) or '-'}" for k, v in value.items())
            print(f"{key + ':':15}{shown if shown not in (None, '') else '-'}", file=out)
        return
    print(f"{'product':14} {'name':14} {'factor':9} {'cms':6} {'unit':4}  strengths", file=out)
    for p in products:
        strengths = ", ".join(format_amount(s) for s in p.strengths) or "-"
        cms = ",".join(p.codes.get("cms", ())) or "-"
        print(f"{p.id:14} {p.name:14} {p.factor:9} {cms:6} {p.unit:4}  {strengths}", file=out)
    with_ndc = sum(bool(p.ndcs) for p in products)
    print(
        f"\n{counted(len(products), 'product')}; {with_ndc} with NDCs a public source lists "
        "(the others have none here: their lots name the product).",
        file=out,
    )


def run_crosswalk(args: argparse.Namespace, out: TextIO, report: Report) -> None:
    crosswalk = read_crosswalk(Path(args.file))
    catalog, cms = load_catalog(), load_code_set("cms")
    factor_links = [link for link in crosswalk.links if cms.get(link.code) is not None]
    disagreements = []
    for link in factor_links:
        if link.ndc in crosswalk.ambiguous:
            continue  # reported as ambiguous: it links to no code
        listed = catalog.by_ndc(link.ndc)
        if listed is not None and not listed.billed_under(cms.lookup(link.code)):
            disagreements.append(
                {
                    "ndc": link.ndc,
                    "crosswalk": link.code,
                    "catalog": listed.name,
                    "catalog_codes": list(listed.codes.get("cms", ())),
                }
            )
    known = len({link.ndc for link in factor_links if catalog.by_ndc(link.ndc) is not None})
    summary = {
        "rows": len(crosswalk),
        "clotting_factor_rows": len(factor_links),
        "codes": sorted({link.code for link in factor_links}),
        "ndcs_in_catalog": known,
        "ambiguous_ndcs": list(crosswalk.ambiguous),
        "disagreements": disagreements,
    }
    if args.json:
        print(json.dumps(summary), file=out)
    else:
        print(
            f"{counted(len(crosswalk), 'row')}; {counted(len(factor_links), 'row')} for "
            f"{counted(len(summary['codes']), 'clotting-factor code')} "  # type: ignore[arg-type]
            f"({', '.join(summary['codes']) or 'none'}); "  # type: ignore[arg-type]
            f"{counted(known, 'NDC')} also in the catalog.",
            file=out,
        )
        for ndc in crosswalk.ambiguous:
            print(f"  ! NDC {ndc} is listed under more than one code: it links to none", file=out)
        for d in disagreements:
            print(
                f"  ! NDC {d['ndc']}: the crosswalk says {d['crosswalk']}, the catalog "
                f"{d['catalog']} ({', '.join(d['catalog_codes']) or '-'})",
                file=out,
            )
        if not factor_links:
            print("  ! no clotting-factor code in it: is this the NDC-HCPCS crosswalk?", file=out)
        elif not disagreements and not crosswalk.ambiguous:
            print("The crosswalk and the catalog agree.", file=out)
    report.saw(Exit.NEGATIVE if disagreements or not factor_links else Exit.OK)
