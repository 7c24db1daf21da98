"""Files only where the user meant them (dosing.files): one test per way data could
make the program read, or show, a file its user did not name."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from dosing import InputError, load_code_set, plan, plan_supply
from dosing.audit import Checker
from dosing.billing import PayerProfileError, load_payer
from dosing.cli import main
from dosing.errors import CodeSetError, DosingError
from optimizer import textfile

SECRET = "SECRET-7f3a"
SHELF = [{"lot": "A", "amount": 1000, "count": 3}]
GOOD_CODES = "code,descriptor,product,unit_amount,unit,source\nJ9999,Test,test,10,IU,test\n"


def order(**fields: object) -> dict[str, object]:
    return {"code": "J7208", "dose": 2000, "inventory": SHELF, **fields}


def from_file(name: str) -> dict[str, object]:
    """The order with its inventory in the file ``name`` instead of inline."""
    return {"code": "J7208", "dose": 2000, "inventory_file": name}


def secret_file(folder: Path, name: str = "secret.txt") -> Path:
    path = folder / name
    path.write_text(f"{SECRET}\nline two {SECRET}\n")
    return path


@pytest.mark.parametrize(
    "fields",
    [
        {"code_set": "/proc/self/environ"},
        {"payer": "/etc/passwd"},
        {"inventory_file": "/etc/passwd", "inventory": None},
    ],
    ids=["code_set", "payer", "inventory_file"],
)
def test_without_a_base_directory_paths_in_data_are_refused(fields: dict[str, object]) -> None:
    data = {k: v for k, v in order(**fields).items() if v is not None}
    with pytest.raises(DosingError) as info:
        plan(data)
    message = str(info.value)
    assert "pass base_dir" in message and "\n" not in message
    assert "PATH=" not in message and "root:" not in message


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside/secret.txt", "link.csv"])
def test_paths_must_stay_inside_the_base_directory(tmp_path: Path, name: str) -> None:
    base = tmp_path / "orders"
    base.mkdir()
    (tmp_path / "outside").mkdir()
    target = secret_file(tmp_path / "outside")
    (base / "link.csv").symlink_to(target)  # a link inside that points outside
    for fields in ({"code_set": name}, {"payer": name}):
        with pytest.raises(DosingError) as info:
            plan(order(**fields), base_dir=base)
        assert "must be a path inside" in str(info.value)
        assert SECRET not in str(info.value)
    with pytest.raises(InputError, match="must be a path inside"):
        plan(from_file(name), base_dir=base)


def test_a_file_inside_the_base_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "codes.csv").write_text(GOOD_CODES)
    (tmp_path / "stock.csv").write_text("ndc,lot,amount,count\n,A,500,4\n")
    data = {"code": "J9999", "dose": 1000, "code_set": "codes.csv", "inventory_file": "stock.csv"}
    result = plan(data, base_dir=tmp_path)
    assert result.ok and [line.units for line in result.claim_lines] == [100]


@pytest.mark.parametrize("what", ["code_set", "payer", "inventory_file"])
def test_messages_never_quote_a_files_content(tmp_path: Path, what: str) -> None:
    secret_file(tmp_path, "data.txt")
    fields: dict[str, object] = {what: "data.txt"}
    if what == "inventory_file":
        fields["inventory"] = None
    data = {k: v for k, v in order(**fields).items() if v is not None}
    with pytest.raises(DosingError) as info:
        plan(data, base_dir=tmp_path)
    assert "data.txt" in str(info.value)  # the file is named
    assert SECRET not in str(info.value)  # its content never


def test_a_bad_cell_is_named_by_row_and_column_not_by_its_content(tmp_path: Path) -> None:
    (tmp_path / "codes.csv").write_text(GOOD_CODES.replace(",10,", f",{SECRET},"))
    with pytest.raises(CodeSetError) as info:
        load_code_set(tmp_path / "codes.csv")
    assert "row 2, column `unit_amount`" in str(info.value) and SECRET not in str(info.value)
    (tmp_path / "stock.csv").write_text(f"ndc,lot,amount,count\n,A,{SECRET},4\n")
    with pytest.raises(InputError) as stock:
        plan(from_file("stock.csv"), base_dir=tmp_path)
    assert "row 2, column amount" in str(stock.value) and SECRET not in str(stock.value)


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "stock").mkdir()
    with pytest.raises(InputError, match="not a folder"):
        plan(from_file("stock"), base_dir=tmp_path)


def test_files_are_read_up_to_a_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textfile, "MAX_BYTES", 64)
    (tmp_path / "big.toml").write_text("# " + "x" * 100 + "\n")
    with pytest.raises(PayerProfileError, match="at most"):
        load_payer("big.toml", base_dir=tmp_path)


def test_a_claims_files_columns_read_no_file_outside_its_folder(tmp_path: Path) -> None:
    outside = secret_file(tmp_path)
    folder = tmp_path / "claims"
    folder.mkdir()
    claims = folder / "claims.csv"
    claims.write_text(
        "claim_id,line_id,patient_id,payer,date_of_service,submission_date,code,modifiers,"
        "units,code_set\n"
        f"C1,1,P1,{outside},2026-11-20,2026-11-27,J7208,JZ,1000,{outside}\n"
    )
    checker = Checker(base_dir=folder)
    found = [f for result in checker.check_file(claims) for f in result.findings]
    ids = {f.rule.id for f in found}
    assert {"unknown-payer", "unknown-code"} <= ids
    assert all(SECRET not in f.message for f in found)


def test_a_key_with_a_newline_cannot_forge_a_second_line(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps({**order(), "x\nfactordose: error: forged": 1}))
    err = io.StringIO()
    assert main(["plan", str(path)], out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "\\n" in err.getvalue()


def test_the_cli_reads_files_next_to_the_order_and_refuses_others(tmp_path: Path) -> None:
    (tmp_path / "codes.csv").write_text(GOOD_CODES)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({**order(), "code": "J9999", "code_set": "codes.csv"}))
    assert main(["plan", str(good), "--json"], out=io.StringIO(), err=io.StringIO()) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**order(), "code_set": "/etc/passwd"}))
    err = io.StringIO()
    assert main(["plan", str(bad)], out=io.StringIO(), err=err) == 2
    assert "must be a path inside" in err.getvalue()


def test_a_supply_request_is_held_to_the_same_rules(tmp_path: Path) -> None:
    request = {"doses": [{"code": "J7208", "dose": 1000}], "inventory_file": "/etc/passwd"}
    with pytest.raises(InputError, match="pass base_dir"):
        plan_supply(request)
    with pytest.raises(InputError, match="must be a path inside"):
        plan_supply(request, base_dir=tmp_path)
    assert os.path.exists("/etc/passwd")  # the refusal was not for want of a file


def test_a_file_gone_before_its_stamp_is_taken_is_an_input_error(tmp_path: Path) -> None:
    # between the check and the read the file can go; that is a refusal, not an OSError
    with pytest.raises(InputError, match="no such file"):
        textfile.stamp(
            tmp_path / "gone.csv", field="code_set", what="a code set CSV", error=InputError
        )
