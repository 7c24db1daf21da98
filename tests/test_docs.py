"""The docs users read stay true: they exist, they are what the code cites, and
nothing points at material a user of the repository does not have."""

from __future__ import annotations

import re
import subprocess

import pytest

from dosing.audit import RULES
from dosing.billing import SHIPPED_CODE_SETS, SHIPPED_PAYERS, load_code_set, load_payer
from tests.paths import ROOT

BILLING = (ROOT / "docs" / "billing.md").read_text()
DESIGN = (ROOT / "docs" / "design.md").read_text()
SECTIONS = {int(n) for n in re.findall(r"^## (\d+)\. ", BILLING, re.MULTILINE)}


def tracked(*suffixes: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    names = [name for name in listed.stdout.split("\0") if name.endswith(suffixes)]
    if listed.returncode == 0 and names:
        return names
    # not a git checkout of its own (an sdist, a copy): walk the tree instead
    return [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*")
        if p.suffix in suffixes and not {".git", "mutants", "out"} & set(p.relative_to(ROOT).parts)
    ]


def test_nothing_points_outside_the_repository() -> None:
    pattern = re.compile(r"share[d]/|billing-rules\.md|issue [0-9]")  # [d]: not a hit itself
    offenders = [
        f"{name}:{number}"
        for name in tracked(".py", ".md", ".csv", ".toml")
        for number, line in enumerate((ROOT / name).read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not offenders


def test_billing_doc_has_the_seven_sections_the_code_cites() -> None:
    assert set(range(1, 8)) <= SECTIONS
    cited = {
        int(n)
        for name in tracked(".py", ".csv", ".toml")
        for n in re.findall(r"docs/billing\.md sections? (\d)", (ROOT / name).read_text())
    }
    assert cited and cited <= SECTIONS


@pytest.mark.parametrize("rule", RULES.values(), ids=lambda r: r.id)
def test_every_finding_cites_real_sections_and_is_documented(rule: object) -> None:
    sections = {int(s) for s in rule.section.split(",")}  # type: ignore[attr-defined]
    assert sections <= SECTIONS
    assert f"`{rule.id}`" in BILLING or f"`{rule.id}`" in DESIGN  # type: ignore[attr-defined]


def test_every_shipped_table_cites_the_docs() -> None:
    for name in SHIPPED_CODE_SETS:
        for code in load_code_set(name):
            assert "docs/billing.md section 1" in code.source, (name, code.code)
    for name in SHIPPED_PAYERS:
        assert "docs/billing.md" in load_payer(name).source


def test_the_readme_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/design.md)" in readme and "(docs/billing.md)" in readme
