"""A damaged ledger is said to be damaged, never taken for an empty one: a
truncated or foreign file is refused, a failed integrity check is a ledger
error (exit 4), ``shelf check`` names what is wrong, ``shelf backup`` copies a
ledger in use, and ledgers are made readable by their owner only."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dosing.cli import main
from dosing.errors import InputError, LedgerError
from dosing.shelf import default_url, open_shelf
from dosing.web import create_app
from optimizer import read_inventory_csv
from tests.paths import EXAMPLES

INVENTORY = EXAMPLES / "shelf-inventory.csv"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def stocked(path: Path) -> str:
    url = f"sqlite:///{path}"
    with open_shelf(url) as shelf:
        shelf.receive(read_inventory_csv(INVENTORY), user="rx")
        shelf.dispense({"JV3D08": 1}, user="rx", patient="P-1")
    return url


def damage(path: Path) -> None:
    """Garbage over the ledger's pages past the first two (its tables' pages)."""
    with path.open("r+b") as handle:
        handle.seek(2 * 4096)
        handle.write(b"\xde\xad\xbe\xef" * 4096)


def test_an_empty_file_is_refused_never_taken_for_a_new_shelf(tmp_path: Path) -> None:
    path = tmp_path / "shelf.db"
    path.write_bytes(b"")
    code, out, err = run("shelf", "--db", f"sqlite:///{path}", "list")
    assert code == 4 and out == ""  # not "The shelf is empty."
    assert str(path) in err and "0 bytes" in err and "restore the ledger" in err
    with pytest.raises(LedgerError):
        open_shelf(f"sqlite:///{path}")
    assert path.read_bytes() == b""  # left as it was


def test_a_file_that_is_not_a_ledger_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("patient P-1 secret notes\n")
    code, _, err = run("shelf", "--db", f"sqlite:///{path}", "list")
    assert code == 4 and "is not a SQLite database" in err and "secret" not in err
    folder = tmp_path / "folder.db"
    folder.mkdir()
    with pytest.raises(InputError, match="got a folder"):
        open_shelf(f"sqlite:///{folder}")


def test_a_new_ledger_and_its_folder_are_its_owners_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new.db"
    stocked(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.delenv("FACTORDOSE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_url()
    folder = Path(url.removeprefix("sqlite:///")).parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    open_shelf(url).close()
    assert stat.S_IMODE(Path(url.removeprefix("sqlite:///")).stat().st_mode) == 0o600


def test_damage_inside_a_ledger_is_a_ledger_error_and_check_names_it(tmp_path: Path) -> None:
    path = tmp_path / "shelf.db"
    url = stocked(path)
    assert run("shelf", "--db", url, "check") == (
        0,
        "The ledger is whole: its integrity check and invariants hold.\n",
        "",
    )
    damage(path)
    code, _, err = run("shelf", "--db", url, "list")
    assert code == 4 and "damaged" in err and "restore it from a backup" in err
    assert "internal error" not in err and "SELECT" not in err
    code, out, _ = run("shelf", "--db", url, "check", "--json")
    found = json.loads(out)
    assert code == 4 and not found["ok"] and found["problems"]
    assert all("SQLite" in p or "damaged" in p for p in found["problems"])


def test_check_finds_a_broken_invariant(tmp_path: Path) -> None:
    path = tmp_path / "shelf.db"
    url = stocked(path)
    engine = sa.create_engine(url)
    with engine.begin() as db:  # by hand, past the ledger's own code
        db.execute(sa.text("UPDATE lots SET on_hand = on_hand + 5 WHERE lot = 'JV5K21'"))
        db.execute(
            sa.text(
                'INSERT INTO dispenses (site, "user", patient, at) '
                "VALUES ('', 'rx', 'P-9', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    code, out, _ = run("shelf", "--db", url, "check")
    assert code == 4 and "The ledger has 2 problems:" in out
    assert "lot JV5K21: 9 on hand, but its movements add up to 4" in out
    assert "dispense 2 has no movements" in out


def test_backup_copies_a_ledger_in_use(tmp_path: Path) -> None:
    url = stocked(tmp_path / "shelf.db")
    target = tmp_path / "copy.db"
    with open_shelf(url) as shelf:  # the ledger open, as a running service holds it
        code, out, _ = run("shelf", "--db", url, "backup", str(target))
        assert code == 0 and out == f"Backed up the ledger to {target}.\n"
        stock = {lot.lot: lot.count for lot in shelf.stock()}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with open_shelf(f"sqlite:///{target}") as copy:
        assert {lot.lot: lot.count for lot in copy.stock()} == stock
        assert [r.patient for r in copy.recall("JV3D08")] == ["P-1"]
    code, _, err = run("shelf", "--db", url, "backup", str(target))
    assert code == 2 and "a file that does not exist yet" in err


def test_the_service_answers_damage_with_an_error_id_and_no_sql(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shelf.db"
    url = stocked(path)
    app = create_app(url)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        assert client.get("/api/shelf/recall/JV3D08").status_code == 200
        damage(path)
        client.app.state.shelf.engine.dispose()  # type: ignore[attr-defined]  # new connections
        answer = client.get("/api/shelf/recall/JV3D08")
        assert answer.status_code == 503
        message = answer.json()["error"]["message"]
        assert "error " in message and "SELECT" not in message and "FROM" not in message
        error_id = message.split("error ", 1)[1].split(":", 1)[0]
        assert any(error_id in record.getMessage() for record in caplog.records)
        page = client.get("/shelf", params={"recall": "JV3D08"})
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "SELECT" not in page.text


def test_opening_a_damaged_ledger_makes_no_service(tmp_path: Path) -> None:
    path = tmp_path / "shelf.db"
    url = stocked(path)
    damage(path)
    with pytest.raises(LedgerError):
        create_app(url)
