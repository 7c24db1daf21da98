"""``factordose plan --batch``: one output line per input line, whatever the input."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dosing.batch
from dosing.cli import main

GOOD = json.dumps(
    {
        "code": "J7212",
        "dose": 3000,
        "date_of_service": "2026-11-26",
        "inventory": [{"lot": "A", "amount": 1000, "count": 4}],
    }
)
INFEASIBLE = json.dumps(
    {
        "code": "J7212",
        "dose": 30000,
        "mode": "whole_vials",
        "inventory": [{"lot": "A", "amount": 1000, "count": 4}],
    }
)
BAD_FIELD = json.dumps(
    {"code": "J7212", "dose": -5, "inventory": [{"lot": "A", "amount": 1000, "count": 4}]}
)


def run_batch(tmp_path: Path, lines: list[str], *flags: str) -> tuple[int, list[str], str]:
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", "--batch", str(path), *flags], out=out, err=err)
    return code, out.getvalue().splitlines(), err.getvalue()


def test_bad_lines_become_error_objects_and_the_rest_is_planned(tmp_path: Path) -> None:
    code, out, err = run_batch(
        tmp_path, [GOOD, "{not json", BAD_FIELD, "", INFEASIBLE, GOOD], "--json"
    )
    records = [json.loads(line) for line in out]
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r["status"] for r in records] == ["ok", "error", "error", "error", "infeasible", "ok"]
    assert "valid JSON" in records[1]["error"]["message"]
    assert records[2]["error"]["field"] == "dose"
    assert records[3]["error"]["message"].endswith("(got an empty line)")
    assert code == 2 and err == ""


def test_exit_code_is_the_worst_seen(tmp_path: Path) -> None:
    assert run_batch(tmp_path, [GOOD, GOOD])[0] == 0
    assert run_batch(tmp_path, [GOOD, INFEASIBLE])[0] == 1
    assert run_batch(tmp_path, [INFEASIBLE, BAD_FIELD, GOOD])[0] == 2


def test_text_batch_prints_one_summary_per_line(tmp_path: Path) -> None:
    code, out, _ = run_batch(tmp_path, [GOOD, BAD_FIELD, INFEASIBLE])
    assert code == 2  # the worst seen: the bad line
    assert len(out) == 3
    assert out[0].startswith("line 1: ok: J7212 3,000 IU in 3 vials")
    assert out[1].startswith("line 2: error: `dose` must be a number > 0")
    assert out[2].startswith("line 3: infeasible: J7212 not enough stock")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([GOOD, INFEASIBLE, BAD_FIELD, "", "[]", "null", "{}"]),
            st.text(
                alphabet=st.characters(
                    blacklist_categories=("Cs",),
                    blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
                ),
                max_size=30,
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_one_output_line_per_input_line_whatever_the_input(
    tmp_path: Path, lines: list[str]
) -> None:
    code, out, _ = run_batch(tmp_path, lines, "--json")
    records = [json.loads(line) for line in out]
    # blank lines at the end are ignored; every other line is answered, in order
    answered = len(lines)
    while answered and not lines[answered - 1].encode().strip():
        answered -= 1
    assert [r["line"] for r in records] == list(range(1, answered + 1))
    # the exit code is the worst outcome of any line (docs/design.md "Exit codes")
    worst = {"ok": 0, "infeasible": 1, "error": 2}
    assert code == max((worst[r["status"]] for r in records), default=0)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_only_for_long_batches(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join([GOOD] * 250) + "\n")
    err = Terminal()
    assert main(["plan", "--batch", str(path), "--json"], out=io.StringIO(), err=err) == 0
    assert "250/250" in err.getvalue() and err.getvalue().endswith("\n")
    quiet = io.StringIO()  # not a terminal: nothing
    assert main(["plan", "--batch", str(path), "--json"], out=io.StringIO(), err=quiet) == 0
    assert quiet.getvalue() == ""
    short = tmp_path / "short.jsonl"
    short.write_text(GOOD + "\n")
    err = Terminal()
    assert main(["plan", "--batch", str(short)], out=io.StringIO(), err=err) == 0
    assert err.getvalue() == ""


def run_bytes(tmp_path: Path, data: bytes) -> tuple[int, list[dict[str, object]]]:
    path = tmp_path / "orders.jsonl"
    path.write_bytes(data)
    out = io.StringIO()
    code = main(["plan", "--batch", str(path), "--json"], out=out, err=io.StringIO())
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_separator_inside_a_json_string_does_not_split_the_line(tmp_path: Path) -> None:
    # U+2028 is a line break to str.splitlines, but JSON allows it inside strings:
    # the line stays one line (its patient id is refused: not a printable character)
    odd = json.dumps({**json.loads(GOOD), "patient_id": "P\u20281"}, ensure_ascii=False)
    code, records = run_bytes(tmp_path, f"{odd}\n{GOOD}\n{BAD_FIELD}\n".encode())
    statuses = [(r["line"], r["status"]) for r in records]
    assert statuses == [(1, "error"), (2, "ok"), (3, "error")]
    assert records[0]["error"]["field"] == "patient_id"  # type: ignore[index]
    assert code == 2


def test_a_line_that_is_not_utf8_is_that_lines_error_only(tmp_path: Path) -> None:
    data = GOOD.encode() + b"\n" + b'{"code": "J7212\xff"}' + b"\n" + GOOD.encode() + b"\n"
    code, records = run_bytes(tmp_path, data)
    assert [r["status"] for r in records] == ["ok", "error", "ok"]
    assert "not UTF-8 at column 16" in records[1]["error"]["message"]  # type: ignore[index]
    assert code == 2


def test_blank_lines_at_the_end_are_ignored_and_crlf_is_read(tmp_path: Path) -> None:
    code, records = run_bytes(tmp_path, f"{GOOD}\r\n\r\n{GOOD}\n\n  \n\n".encode())
    assert [(r["line"], r["status"]) for r in records] == [(1, "ok"), (2, "error"), (3, "ok")]
    assert code == 2


def test_an_overlong_line_is_refused_and_the_next_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dosing.batch, "MAX_LINE", 1000)  # where the lines are read
    long = json.dumps({**json.loads(GOOD), "patient_id": "x" * 5000})
    code, records = run_bytes(tmp_path, f"{long}\n{GOOD}\n".encode())
    assert code == 2
    assert [r["status"] for r in records] == ["error", "ok"]
    assert "at most 1,000 bytes" in records[0]["error"]["message"]  # type: ignore[index]


def test_a_batch_reads_standard_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dosing", "plan", "--batch", "-", "--json"],
        input=f"{GOOD}\n{INFEASIBLE}\n",
        capture_output=True,
        text=True,
        check=False,
    )
    statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
    assert statuses == ["ok", "infeasible"] and result.returncode == 1


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_batch_on_a_line_boundary(signum: int, code: int) -> None:
    # The batch reads standard input; once it has answered two lines it waits for
    # a third, and the signal arrives then: no clock involved.
    process = subprocess.Popen(
        [sys.executable, "-m", "dosing", "plan", "--batch", "-", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{GOOD}\n{INFEASIBLE}\n".encode())
    process.stdin.flush()
    first = process.stdout.readline()
    second = process.stdout.readline()
    process.send_signal(signum)
    rest, err = process.communicate(timeout=60)
    lines = (first + second + rest).decode().splitlines(keepends=True)
    assert [json.loads(line)["line"] for line in lines] == [1, 2]
    assert all(line.endswith("\n") for line in lines)
    assert process.returncode == code
    assert b"Traceback" not in err
