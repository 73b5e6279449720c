"""Small-group protection: figures over fewer than k people are hidden, k people are shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from analytics.privacy import MIN_GROUP_SIZE, is_suppressed, suppress, suppress_mapping


def test_default_threshold_is_five() -> None:
    assert MIN_GROUP_SIZE == 5


def test_four_person_group_is_suppressed_five_is_shown() -> None:
    assert suppress(0.25, 4) is None
    assert suppress(0.25, 5) == 0.25


def test_zero_is_a_value_not_a_suppression() -> None:
    # a real figure of 0 must survive; only the group size decides
    assert suppress(0, 10) == 0
    assert suppress(0.0, 5) == 0.0


def test_empty_group_always_suppressed() -> None:
    assert suppress(1.0, 0, min_size=0) is None
    assert suppress(1.0, 0, min_size=1) is None


def test_configurable_threshold() -> None:
    assert suppress("x", 2, min_size=2) == "x"
    assert suppress("x", 9, min_size=10) is None


def test_suppress_mapping_with_mapping_and_callable() -> None:
    values = {"a": 1.0, "b": 2.0, "c": 3.0}
    sizes = {"a": 4, "b": 5}
    assert suppress_mapping(values, sizes) == {"a": None, "b": 2.0, "c": None}
    assert suppress_mapping(values, lambda key: 5) == values


@given(st.integers(min_value=-5, max_value=200), st.integers(min_value=-5, max_value=50))
def test_suppress_matches_threshold(size: int, k: int) -> None:
    out = suppress("v", size, k)
    assert (out is None) == is_suppressed(size, k)
    assert (out is None) == (size < max(1, k))
