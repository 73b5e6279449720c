"""Diffusion curves: shape (monotone, in [0, 1], start at seeds/n), determinism, direction."""

from __future__ import annotations

import itertools
import time

import networkx as nx
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics._arrays import graph_arrays
from analytics.champions import recommend_champions
from analytics.diffusion import (
    effective_runs,
    independent_cascade,
    influence_matrix,
    linear_threshold,
    what_if,
)


def karate() -> nx.DiGraph:
    return nx.DiGraph(nx.relabel_nodes(nx.karate_club_graph(), str).to_directed())


def florentine() -> nx.DiGraph:
    return nx.DiGraph(nx.florentine_families_graph().to_directed())


def assert_valid_curve(curve: list[float], steps: int, start: float) -> None:
    assert len(curve) == steps + 1
    assert curve[0] == pytest.approx(start)
    assert all(0.0 <= v <= 1.0 for v in curve)
    assert all(b >= a for a, b in itertools.pairwise(curve))


@pytest.mark.parametrize("model", ["ic", "ic_weighted", "lt"])
@pytest.mark.parametrize("graph", [karate, florentine])
def test_curves_are_valid_and_deterministic(model: str, graph: object) -> None:
    G = graph()  # type: ignore[operator]
    seeds = sorted(G)[:3]

    def run(seed: int) -> list[float]:
        if model == "lt":
            return linear_threshold(G, seeds, steps=8, runs=100, seed=seed)
        p = None if model == "ic_weighted" else 0.2
        return independent_cascade(G, seeds, p=p, steps=8, runs=100, seed=seed)

    curve = run(3)
    assert_valid_curve(curve, 8, 3 / len(G))
    assert run(3) == curve
    assert curve[-1] > curve[0]  # something spreads on a connected network


def test_influence_flows_from_the_named_to_the_namer() -> None:
    # "b" named "a" (b goes to a for advice): a influences b, never the other way round
    G = nx.DiGraph([("b", "a")])
    assert independent_cascade(G, ["a"], p=1.0, steps=1) == [0.5, 1.0]
    assert independent_cascade(G, ["b"], p=1.0, steps=1) == [0.5, 0.5]
    assert linear_threshold(G, ["a"], steps=1) == [0.5, 1.0]
    assert linear_threshold(G, ["b"], steps=1) == [0.5, 0.5]


def test_influence_shares_follow_tie_weight() -> None:
    G = nx.DiGraph()
    G.add_edge("v", "u", weight=3.0)
    G.add_edge("v", "w", weight=1.0)
    G.add_edge("x", "u")  # no weight attribute: counts as 1
    B = influence_matrix(graph_arrays(G))
    column_sums = np.asarray(B.sum(axis=0)).ravel()
    arr = graph_arrays(G)
    assert column_sums[arr.index["v"]] == pytest.approx(1.0)
    assert column_sums[arr.index["x"]] == pytest.approx(1.0)
    assert B[arr.index["u"], arr.index["v"]] == pytest.approx(0.75)


def test_threshold_model_needs_enough_pressure() -> None:
    # c names a and b equally: with only a adopting, c adopts in about half the runs
    G = nx.DiGraph([("c", "a"), ("c", "b")])
    curve = linear_threshold(G, ["a"], steps=1, runs=2000, seed=1)
    assert curve[1] - curve[0] == pytest.approx(0.5 / 3, abs=0.03)
    both = linear_threshold(G, ["a", "b"], steps=1, runs=50)
    assert both == [2 / 3, 1.0]


def test_empty_seed_set_and_unknown_seeds_spread_nothing() -> None:
    G = karate()
    assert independent_cascade(G, [], steps=3) == [0.0] * 4
    assert linear_threshold(G, ["ghost"], steps=3) == [0.0] * 4


def test_what_if_shape_and_recommended_vs_current() -> None:
    G = karate()
    recommended = recommend_champions(G, 3, teams={}, communities={})
    out = what_if(G, ["5", "6", "16"], recommended, steps=6, runs=150, seed=0)
    assert set(out) >= {"steps", "runs", "models"}
    assert (out["steps"], out["runs"]) == (6, 150)
    assert set(out["models"]) == {"independent_cascade", "linear_threshold"}
    for curves in out["models"].values():
        assert set(curves) == {"current", "recommended"}
        for curve in curves.values():
            assert_valid_curve(curve, 6, 3 / 34)
    ic = out["models"]["independent_cascade"]
    assert ic["recommended"][-1] >= ic["current"][-1]
    assert what_if(G, ["5", "6", "16"], recommended, steps=6, runs=150, seed=0) == out


def test_runs_and_steps_are_capped_on_large_graphs() -> None:
    assert effective_runs(100, 1_000, 200) == 200
    assert 10 <= effective_runs(100_000, 1_000_000, 200) < 200
    assert effective_runs(10_000_000, 100_000_000, 200) == 10
    assert effective_runs(10_000_000, 100_000_000, 3) == 3
    assert len(independent_cascade(nx.DiGraph([("a", "b")]), ["b"], steps=10_000)) == 101


@pytest.mark.slow
def test_what_if_on_100k_people_is_bounded() -> None:
    rng = np.random.default_rng(0)
    n, m = 100_000, 1_000_000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    G = nx.DiGraph()
    G.add_nodes_from(str(i) for i in range(n))
    G.add_edges_from(zip(map(str, src.tolist()), map(str, dst.tolist()), strict=True))
    start = time.perf_counter()
    out = what_if(G, [str(i) for i in range(10)], [str(i) for i in range(10, 30)], runs=200)
    elapsed = time.perf_counter() - start
    assert out["runs"] < 200
    for curves in out["models"].values():
        assert_valid_curve(curves["recommended"], 10, 20 / n)
    assert elapsed < 60, elapsed


ids = st.sampled_from([str(i) for i in range(6)])


@settings(max_examples=60, deadline=None)
@example(nodes=[], edges=[], seeds=["0"], steps=3, p=0.5)  # empty graph
@example(nodes=["0"], edges=[], seeds=["0"], steps=3, p=None)  # one person
@example(nodes=["0", "1", "2"], edges=[], seeds=["1"], steps=3, p=1.0)  # all isolates
@example(nodes=[], edges=[("0", "0"), ("0", "1")], seeds=["1"], steps=3, p=1.0)  # self-loop
@given(
    nodes=st.lists(ids, max_size=6, unique=True),
    edges=st.lists(st.tuples(ids, ids), max_size=15),
    seeds=st.lists(ids, max_size=4),
    steps=st.integers(min_value=0, max_value=5),
    p=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),
)
def test_any_small_graph_gives_valid_curves(
    nodes: list[str], edges: list[tuple[str, str]], seeds: list[str], steps: int, p: float | None
) -> None:
    # empty graph, one person, all isolates, self-loops
    G = nx.DiGraph()
    G.add_nodes_from(nodes)
    G.add_edges_from(edges)
    n = len(G)
    start = len(set(seeds) & set(G)) / n if n else 0.0
    out = what_if(G, seeds, seeds[::-1], steps=steps, runs=20, seed=0, p=p)
    for curves in out["models"].values():
        for curve in curves.values():
            assert_valid_curve(curve, steps, start)
