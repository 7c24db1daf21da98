"""``factordose plan --batch``: one output line per input line, whatever the input."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    assert [r["line"] for r in records] == list(range(1, len(lines) + 1))
    # the exit code is the worst outcome of any line (docs/design.md "Exit codes")
    worst = {"ok": 0, "infeasible": 1, "error": 2}
    assert code == max(worst[r["status"]] for r in records)


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
