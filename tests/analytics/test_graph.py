"""build_graph: window, decay, kinds, roster filtering and the drop report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.graph import build_graph, empty_report
from analytics.model import AnalysisOptions, Person, Tie

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DROP_KEYS = (
    "filtered_kind",
    "outside_window",
    "invalid_weight",
    "self_ties_dropped",
    "unknown_ties_dropped",
    "removed_ties_dropped",
)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_decay_halves_weight_every_half_life() -> None:
    ties = [
        Tie("a", "b", occurred_at=NOW),
        Tie("a", "c", occurred_at=days_ago(30)),
        Tie("a", "d", occurred_at=days_ago(60)),
    ]
    G, _ = build_graph(ties, options=AnalysisOptions(now=NOW))
    assert G["a"]["b"]["weight"] == pytest.approx(1.0)
    assert G["a"]["c"]["weight"] == pytest.approx(0.5)
    assert G["a"]["d"]["weight"] == pytest.approx(0.25)


def test_window_drops_old_and_future_ties() -> None:
    ties = [
        Tie("a", "b", occurred_at=days_ago(89)),
        Tie("a", "c", occurred_at=days_ago(91)),
        Tie("a", "d", occurred_at=NOW + timedelta(days=1)),
    ]
    G, report = build_graph(ties, options=AnalysisOptions(now=NOW))
    assert list(G.edges()) == [("a", "b")]
    assert report["outside_window"] == 2
    G, report = build_graph(ties, options=AnalysisOptions(now=NOW, window_days=None))
    assert sorted(G.edges()) == [("a", "b"), ("a", "c")]


def test_now_defaults_to_latest_tie_and_naive_times_are_utc() -> None:
    ties = [
        Tie("a", "b", occurred_at=datetime(2024, 6, 1, 12, 0)),  # naive
        Tie("b", "c", occurred_at=days_ago(30)),  # aware
    ]
    G, report = build_graph(ties)
    assert G["b"]["c"]["weight"] == pytest.approx(0.5)
    assert report["window_end"] == NOW.isoformat()


def test_ties_without_time_keep_raw_weight() -> None:
    G, _ = build_graph([Tie("a", "b", weight=3.0), Tie("a", "b", weight=2.0)])
    assert G["a"]["b"]["weight"] == 5.0
    assert G["a"]["b"]["count"] == 2


def test_no_decay_when_half_life_is_none() -> None:
    ties = [Tie("a", "b", occurred_at=days_ago(30))]
    G, _ = build_graph(ties, options=AnalysisOptions(now=NOW, half_life_days=None))
    assert G["a"]["b"]["weight"] == 1.0


def test_kinds_filter_and_kind_weights() -> None:
    ties = [
        Tie("a", "b", kind="advice"),
        Tie("a", "b", kind="energy"),
        Tie("a", "c", kind="recognised"),
        Tie("c", "a", kind="helped"),
    ]
    options = AnalysisOptions(
        kinds=frozenset({"advice", "energy", "helped"}),
        kind_weights={"energy": 0.5, "helped": 0.0},
    )
    G, report = build_graph(ties, options=options)
    assert list(G.edges(data=True)) == [
        ("a", "b", {"weight": 1.5, "count": 2, "kinds": "advice,energy"})
    ]
    assert report["filtered_kind"] == 2  # one kind not asked for, one weighted 0


def test_self_ties_dropped_and_counted() -> None:
    G, report = build_graph([Tie("a", "a"), Tie("a", "b")])
    assert report["self_ties_dropped"] == 1
    assert not any(u == v for u, v in G.edges())


def test_unknown_ids_reported_and_their_ties_dropped() -> None:
    people = [Person("a"), Person("b")]
    G, report = build_graph([Tie("a", "b"), Tie("a", "zz"), Tie("yy", "b")], people)
    assert report["unknown_ids"] == ["yy", "zz"]
    assert report["unknown_ties_dropped"] == 2
    assert set(G) == {"a", "b"}


def test_opted_out_and_inactive_people_removed_with_their_ties() -> None:
    people = [
        Person("a", team="x"),
        Person("b", opted_out=True),
        Person("c", active=False),
        Person("d", team="y", champion=True, attrs={"level": "3"}),
    ]
    ties = [Tie("a", "b"), Tie("b", "a"), Tie("c", "a"), Tie("a", "d")]
    G, report = build_graph(ties, people)
    assert set(G) == {"a", "d"}
    assert list(G.edges()) == [("a", "d")]
    assert report["removed_people"] == 2
    assert report["removed_ties_dropped"] == 3
    assert report["unknown_ids"] == []
    assert G.nodes["d"] == {"level": "3", "name": "", "team": "y", "champion": True}


def test_everyone_on_the_roster_is_a_node_even_without_ties() -> None:
    G, _ = build_graph([], [Person("b"), Person("a")])
    assert list(G) == ["a", "b"]
    assert G.number_of_edges() == 0


def test_invalid_weights_are_dropped_not_crashing() -> None:
    ties = [Tie("a", "b", weight=float("nan")), Tie("a", "b", weight=-1.0), Tie("a", "c")]
    G, report = build_graph(ties)
    assert report["invalid_weight"] == 2
    assert list(G.edges()) == [("a", "c")]


def test_empty_input() -> None:
    G, report = build_graph([])
    assert G.number_of_nodes() == 0
    assert {k: v for k, v in report.items() if k != "window_end"} == {
        k: v for k, v in empty_report().items() if k != "window_end"
    }


ids = st.sampled_from(["a", "b", "c", "d", "e", "ghost"])
tie_strategy = st.builds(
    Tie,
    source=ids,
    target=ids,
    kind=st.sampled_from(["", "advice", "helped"]),
    weight=st.one_of(st.floats(min_value=-1.0, max_value=5.0), st.just(float("nan"))),
    occurred_at=st.one_of(
        st.none(), st.integers(min_value=-5, max_value=200).map(lambda d: days_ago(d))
    ),
)
person_strategy = st.builds(
    Person,
    id=st.sampled_from(["a", "b", "c", "d", "e"]),
    team=st.sampled_from(["", "x", "y"]),
    opted_out=st.booleans(),
    active=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    ties=st.lists(tie_strategy, max_size=30),
    people=st.one_of(st.none(), st.lists(person_strategy, max_size=6)),
)
def test_every_tie_is_used_or_counted_once(
    ties: list[Tie], people: list[Person] | None
) -> None:
    G, report = build_graph(ties, people, AnalysisOptions(now=NOW))
    assert report["ties_read"] == len(ties)
    assert report["ties_used"] + sum(report[k] for k in DROP_KEYS) == len(ties)
    assert sum(d["count"] for _, _, d in G.edges(data=True)) == report["ties_used"]
    assert all(d["weight"] > 0 for _, _, d in G.edges(data=True))
    assert not any(u == v for u, v in G.edges())
    if people is not None:
        roster = {p.id: p for p in people}
        kept = {pid for pid, p in roster.items() if p.active and not p.opted_out}
        assert set(G) == kept
        assert set(report["unknown_ids"]) == {
            pid for t in ties for pid in (t.source, t.target) if pid not in roster
        }
