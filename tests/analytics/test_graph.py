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


# The vectorised build against the loop it replaced -------------------------------------

import math  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from typing import Any  # noqa: E402

import networkx as nx  # noqa: E402

from analytics.graph import TieColumns, build_graph_arrays, to_utc  # noqa: E402

_SECONDS_PER_DAY = 86400.0


def reference_build_graph(
    ties: Iterable[Tie],
    people: Iterable[Person] | None = None,
    options: AnalysisOptions | None = None,
) -> tuple[nx.DiGraph, dict[str, Any]]:
    """The loop-per-tie implementation this module replaced (issue 13), kept as the oracle."""
    options = options if options is not None else AnalysisOptions()
    tie_list = list(ties)
    report = empty_report()
    report["ties_read"] = len(tie_list)

    roster: dict[str, Person] | None = None
    removed: set[str] = set()
    if people is not None:
        roster = {}
        for person in people:
            roster[str(person.id)] = person
        removed = {pid for pid, p in roster.items() if p.opted_out or not p.active}
        report["removed_people"] = len(removed)

    stamps = [to_utc(t.occurred_at) for t in tie_list if t.occurred_at is not None]
    if options.now is not None:
        now = to_utc(options.now)
    elif stamps:
        now = max(stamps)
    else:
        now = datetime.now(UTC)
    window_s = None if options.window_days is None else float(options.window_days) * 86400.0
    half_life_s = (
        None
        if options.half_life_days is None or options.half_life_days <= 0
        else float(options.half_life_days) * _SECONDS_PER_DAY
    )
    kinds = None if options.kinds is None else frozenset(options.kinds)
    kind_weights = options.kind_weights

    # Aggregate in plain dicts first: far cheaper than updating networkx edge dicts per tie.
    weights: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    edge_kinds: dict[tuple[str, str], set[str]] = {}
    seen: set[str] = set()
    unknown: set[str] = set()

    for tie in tie_list:
        source, target = str(tie.source), str(tie.target)
        if roster is not None:
            # Unknown ids are reported whatever happens to the tie later: a data-quality signal.
            for pid in (source, target):
                if pid not in roster:
                    unknown.add(pid)
        kind_weight = float(kind_weights.get(tie.kind, 1.0))
        if (kinds is not None and tie.kind not in kinds) or kind_weight == 0.0:
            report["filtered_kind"] += 1
            continue
        factor = 1.0
        if tie.occurred_at is not None:
            age_s = (now - to_utc(tie.occurred_at)).total_seconds()
            if age_s < 0 or (window_s is not None and age_s > window_s):
                report["outside_window"] += 1
                continue
            if half_life_s is not None:
                factor = 0.5 ** (age_s / half_life_s)
        weight = float(tie.weight) * kind_weight * factor
        if not (math.isfinite(weight) and weight > 0.0):
            report["invalid_weight"] += 1
            continue
        if source == target:
            report["self_ties_dropped"] += 1
            if roster is None:
                seen.add(source)
            continue
        if roster is not None:
            if source not in roster or target not in roster:
                report["unknown_ties_dropped"] += 1
                continue
            if source in removed or target in removed:
                report["removed_ties_dropped"] += 1
                continue
        else:
            seen.add(source)
            seen.add(target)
        key = (source, target)
        weights[key] = weights.get(key, 0.0) + weight
        counts[key] = counts.get(key, 0) + 1
        if key in edge_kinds:
            edge_kinds[key].add(tie.kind)
        else:
            edge_kinds[key] = {tie.kind}
        report["ties_used"] += 1

    report["unknown_ids"] = sorted(unknown)
    report["window_end"] = now.isoformat()

    G: nx.DiGraph = nx.DiGraph()
    if roster is not None:
        for pid in sorted(roster):
            if pid in removed:
                continue
            person = roster[pid]
            attrs: dict[str, Any] = dict(person.attrs)
            attrs.update(name=person.name, team=person.team, champion=bool(person.champion))
            G.add_node(pid, **attrs)
    else:
        for pid in sorted(seen):
            G.add_node(pid, name="", team="", champion=False)
    def kinds_label(found: set[str]) -> str:
        if len(found) == 1:  # the common case: skip sorting and joining
            return next(iter(found))
        return ",".join(sorted(k for k in found if k))

    # Sorted edges make the graph (and so Louvain's visiting order) independent of tie order.
    G.add_edges_from(
        (key[0], key[1], {"weight": weights[key], "count": counts[key],
                          "kinds": kinds_label(edge_kinds[key])})
        for key in sorted(weights)
    )
    return G, report


people_ids = st.sampled_from(["a", "b", "c", "d", "e"])
tie_ids = st.sampled_from(["a", "b", "c", "d", "e", "x"])
moments = st.one_of(
    st.none(),
    st.integers(-5, 200).map(lambda d: NOW - timedelta(days=d, seconds=d * 37)),
    st.integers(0, 40).map(lambda d: (NOW - timedelta(days=d)).replace(tzinfo=None)),
)


@settings(max_examples=150, deadline=None)
@given(
    ties=st.lists(st.builds(Tie, source=tie_ids, target=tie_ids,
                            kind=st.sampled_from(["", "advice", "helped", "energy"]),
                            weight=st.sampled_from([1.0, 2.5, 0.0, -1.0, float("nan"), 0.3]),
                            occurred_at=moments), max_size=30),
    people=st.one_of(st.none(), st.lists(st.builds(
        Person, id=people_ids, team=st.sampled_from(["", "t1"]), champion=st.booleans(),
        opted_out=st.booleans(), active=st.booleans(), attrs=st.just({"level": "2"})),
        max_size=6, unique_by=lambda p: p.id)),
    options=st.builds(
        AnalysisOptions,
        window_days=st.sampled_from([None, 30.0, 90.0]),
        half_life_days=st.sampled_from([None, 0.0, 30.0]),
        kinds=st.sampled_from([None, frozenset({"advice", "helped"}), frozenset({""})]),
        kind_weights=st.sampled_from([{}, {"energy": 0.0, "advice": 2.0}]),
        now=st.sampled_from([None, NOW]),
    ),
)
def test_vectorised_build_equals_the_loop_it_replaced(
    ties: list[Tie], people: list[Person] | None, options: AnalysisOptions
) -> None:
    G, report, arrays = build_graph_arrays(ties, people, options)
    H, expected = reference_build_graph(ties, people, options)
    if options.now is None and not any(t.occurred_at for t in ties):
        report.pop("window_end"), expected.pop("window_end")  # the current time
    assert report == expected
    assert list(G.nodes(data=True)) == list(H.nodes(data=True))
    # numpy's vectorised power may round the decay one unit in the last place differently
    # from Python's: weights agree to 1e-12, everything else exactly.
    ours, theirs = list(G.edges(data=True)), list(H.edges(data=True))
    assert [(u, v, d["count"], d["kinds"]) for u, v, d in ours] == \
        [(u, v, d["count"], d["kinds"]) for u, v, d in theirs]
    assert [d["weight"] for *_, d in ours] == \
        pytest.approx([d["weight"] for *_, d in theirs], rel=1e-12)
    assert arrays.nodes == list(G)
    nodes = arrays.nodes
    pairs = [(nodes[a], nodes[b]) for a, b in zip(arrays.src, arrays.dst, strict=True)]
    assert pairs == list(G.edges())
    assert arrays.weight.tolist() == [d["weight"] for _, _, d in G.edges(data=True)]
    # Ties given as columns build the same graph.
    G2, _ = build_graph(TieColumns.from_ties(ties), people, options)
    assert list(G2.edges(data=True)) == list(G.edges(data=True))
