"""The benchmark runner's own rules (the benchmarks themselves run in CI with --quick)."""

from __future__ import annotations

from benchmarks.__main__ import HERE, output_dir


def test_only_the_whole_suite_at_full_size_rewrites_the_results_page() -> None:
    assert output_dir(quick=False, partial=False) == HERE
    assert output_dir(quick=True, partial=False) == HERE / "out"
    assert output_dir(quick=False, partial=True) == HERE / "out"
    assert output_dir(quick=True, partial=True) == HERE / "out"
