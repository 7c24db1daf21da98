"""A FHIR order end to end (read and validate the Bundle, plan, write and
validate the response) against planning the same order JSON: what FHIR costs
on top of the plan.  No goal beyond saying it; an EHR waits on both."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.timing import interleaved, median, ms
from dosing import plan
from dosing.fhir import plan_request, read_bundle
from dosing.jsontext import read_json
from optimizer import read_inventory_csv

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(quick: bool, out_dir: Path) -> dict[str, object]:
    text = (EXAMPLES / "fhir-order.json").read_text()
    lots = read_inventory_csv(EXAMPLES / "fhir-inventory.csv")
    order = read_bundle(read_json(text, "bundle")).order  # the same order, as JSON gives it

    def fhir() -> str:
        return json.dumps(plan_request(read_json(text, "bundle"), inventory=lots)[0])

    def order_json() -> str:
        return json.dumps(plan(order, inventory=lots).to_dict())

    assert plan_request(read_json(text, "bundle"), inventory=lots)[1]
    times = interleaved(
        {"order JSON": order_json, "FHIR Bundle": fhir}, repeats=20 if quick else 200
    )
    base, ours = median(times["order JSON"]), median(times["FHIR Bundle"])
    return {
        "title": "examples/fhir-order.json end to end, against the same order as JSON",
        "rows": [
            ("plan(order JSON) -> plan JSON (baseline)", ms(base), "1.00x"),
            ("FHIR Bundle -> read, plan -> response Bundle", ms(ours), f"{ours / base:.2f}x"),
        ],
        "columns": ("path", "median", "vs baseline"),
        "ratio": ours / base,
        "headline": f"a FHIR order end to end: {ours / base:.2f}x planning its order JSON "
        f"({ms(ours)} against {ms(base)})",
    }
