"""The pattern enumeration of the supply's pattern model, against brute force."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from optimizer.supply.patterns import enumerate_patterns


@given(
    st.lists(st.tuples(st.integers(1, 20), st.integers(0, 3)), max_size=4),
    st.integers(0, 40),
    st.integers(0, 20),
    st.none() | st.integers(1, 5),
)
def test_every_pattern_in_the_window_and_no_other(
    lots: list[tuple[int, int]], low: int, width: int, max_vials: int | None
) -> None:
    amounts, limits = [a for a, _ in lots], [c for _, c in lots]
    high = low + width
    expected = sorted(
        counts
        for counts in itertools.product(*(range(c + 1) for c in limits))
        if low <= sum(a * k for a, k in zip(amounts, counts, strict=True)) <= high
        and (max_vials is None or sum(counts) <= max_vials)
    )
    found = enumerate_patterns(amounts, limits, low, high, max_vials, 10**6)
    assert found is not None and sorted(found) == expected


def test_a_thousand_lots_need_no_thousand_frames() -> None:
    # each lot one vial of 5, a window of 1 to 7: one vial, from any of the lots
    found = enumerate_patterns([5] * 1000, [1] * 1000, 1, 7, None, 10**6)
    assert found is not None and sorted(map(sum, found)) == [1] * 1000


def test_past_the_cap_there_is_no_answer() -> None:
    assert enumerate_patterns([1] * 10, [1] * 10, 1, 10, None, 100) is None
