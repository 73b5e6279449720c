"""Champion reach and recommendation: coverage, small-team suppression, greedy beats top-degree."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics.champions import compare_picks, coverage, coverage_by_team, recommend_champions


def karate() -> nx.DiGraph:
    return nx.DiGraph(nx.relabel_nodes(nx.karate_club_graph(), str).to_directed())


def community_graph(seed: int = 7) -> tuple[nx.DiGraph, dict[str, str], dict[str, int]]:
    """Eight caves of 12 people, a few random cross links; each cave is a team."""
    U = nx.relaxed_caveman_graph(8, 12, 0.15, seed=seed)
    G = nx.DiGraph()
    for u, v in U.edges():
        G.add_edge(str(u), str(v))
    G.add_nodes_from(str(u) for u in U)
    teams = {str(u): f"team-{u // 12}" for u in U}
    communities = {str(u): u // 12 for u in U}
    return G, teams, communities


def test_coverage_counts_either_direction_and_champions_themselves() -> None:
    G = nx.DiGraph([("a", "b"), ("c", "b"), ("d", "c"), ("e", "d")])
    assert coverage(G, ["b"], steps=0) == pytest.approx(0.2)
    assert coverage(G, ["b"], steps=1) == pytest.approx(0.6)
    assert coverage(G, ["b"], steps=2) == pytest.approx(0.8)
    assert coverage(G, ["b", "e"], steps=2) == pytest.approx(1.0)


def test_coverage_ignores_unknown_champions_and_empty_graph() -> None:
    G = nx.DiGraph([("a", "b")])
    assert coverage(G, ["nobody"]) == 0.0
    assert coverage(G, []) == 0.0
    assert coverage(nx.DiGraph(), ["a"]) == 0.0


def test_four_person_team_is_suppressed_five_person_team_is_shown() -> None:
    G = nx.DiGraph([("s1", "s2"), ("b1", "b2")])
    G.add_nodes_from(["s3", "s4", "b3", "b4", "b5"])
    teams = {**{f"s{i}": "small" for i in range(1, 5)}, **{f"b{i}": "big" for i in range(1, 6)}}
    by_team = coverage_by_team(G, ["s1", "b1"], teams, steps=1)
    assert by_team == {"big": pytest.approx(0.4), "small": None}
    assert coverage_by_team(G, ["s1"], teams, steps=1, min_group_size=4)["small"] == 0.5


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_recommended_reach_at_least_top_degree_on_karate(k: int) -> None:
    G = karate()
    teams = {n: "Mr. Hi" if int(n) < 17 else "Officer" for n in G}
    out = compare_picks(G, k, champions=[], teams=teams, communities={}, seed=0)
    assert len(out["recommended"]["ids"]) == k
    assert out["recommended"]["coverage_two_step"] >= out["top_degree"]["coverage_two_step"]


@pytest.mark.parametrize("k", [2, 4, 8])
def test_recommended_reach_at_least_top_degree_on_community_graph(k: int) -> None:
    G, teams, communities = community_graph()
    out = compare_picks(G, k, champions=["0"], teams=teams, communities=communities, seed=0)
    rec, top = out["recommended"], out["top_degree"]
    assert rec["coverage_two_step"] >= top["coverage_two_step"]
    assert rec["coverage_two_step"] >= out["random"]["coverage_two_step"]


def test_recommendation_spreads_across_teams_and_communities() -> None:
    G, teams, communities = community_graph()
    picks = recommend_champions(G, 8, teams=teams, communities=communities, seed=0)
    assert len({teams[p] for p in picks}) == 8
    assert len({communities[p] for p in picks}) == 8


def test_diversity_breaks_near_ties_only() -> None:
    # two stars in team A (sizes 10 and 10) and one in team B (size 10): after the first pick
    # in A, the B star (same gain) wins over the other A star
    G = nx.DiGraph()
    for hub in ("a1", "a2", "b1"):
        G.add_edges_from((f"{hub}-{i}", hub) for i in range(9))
    teams = {n: n[0].upper() for n in G}
    picks = recommend_champions(G, 2, teams=teams, communities={}, seed=0)
    assert picks[0] in {"a1", "a2", "b1"}
    assert {teams[p] for p in picks} == {"A", "B"}
    # with diversity switched off, a bigger gain elsewhere is never sacrificed
    G.add_edges_from((f"a2-x{i}", "a2") for i in range(5))
    picks = recommend_champions(G, 2, teams=teams, communities={}, seed=0, tolerance=0.0)
    assert picks[0] == "a2"


def test_compare_picks_shape_and_determinism() -> None:
    G, teams, communities = community_graph()
    first = compare_picks(G, 4, champions=["0", "ghost"], teams=teams, communities=communities)
    again = compare_picks(G, 4, champions=["0", "ghost"], teams=teams, communities=communities)
    assert first == again
    assert set(first) == {"k", "recommended", "top_degree", "random", "current"}
    assert first["k"] == 4
    assert first["current"]["ids"] == ["0"]
    for key in ("recommended", "top_degree", "random", "current"):
        block = first[key]
        assert set(block) == {"ids", "coverage_one_step", "coverage_two_step"}
        assert 0.0 <= block["coverage_one_step"] <= block["coverage_two_step"] <= 1.0
    other = compare_picks(G, 4, champions=[], teams=teams, communities=communities, seed=1)
    assert other["random"]["ids"] != first["random"]["ids"]


@pytest.mark.slow
def test_recommend_scales_to_100k_people_1m_ties() -> None:
    rng = np.random.default_rng(0)
    n, m = 100_000, 1_000_000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    G = nx.DiGraph()
    G.add_nodes_from(str(i) for i in range(n))
    G.add_edges_from(zip(map(str, src.tolist()), map(str, dst.tolist()), strict=True))
    teams = {p: f"team-{int(p) % 50}" for p in G}
    communities = {p: int(p) % 300 for p in G}
    start = time.perf_counter()
    picks = recommend_champions(G, 20, teams=teams, communities=communities)
    elapsed = time.perf_counter() - start
    assert len(set(picks)) == 20
    assert elapsed < 30, elapsed


ids = st.sampled_from([str(i) for i in range(7)])


@settings(max_examples=60, deadline=None)
@example(nodes=[], edges=[], k=3, champions=["0"])  # empty graph
@example(nodes=["0"], edges=[], k=2, champions=["0"])  # one person
@example(nodes=["0", "1", "2"], edges=[], k=2, champions=[])  # all isolates
@example(nodes=[], edges=[("0", "0"), ("1", "1")], k=2, champions=["1"])  # self-loops
@given(
    nodes=st.lists(ids, max_size=7, unique=True),
    edges=st.lists(st.tuples(ids, ids), max_size=15),
    k=st.integers(min_value=0, max_value=9),
    champions=st.lists(ids, max_size=3),
)
def test_any_small_graph_gives_valid_picks(
    nodes: list[str], edges: list[tuple[str, str]], k: int, champions: list[str]
) -> None:
    # empty graph, one person, all isolates, self-loops
    G = nx.DiGraph()
    G.add_nodes_from(nodes)
    G.add_edges_from(edges)
    teams = {n: f"t{int(n) % 2}" for n in G}
    communities = {n: int(n) % 3 for n in G}
    out = compare_picks(G, k, champions=champions, teams=teams, communities=communities)
    rec = out["recommended"]["ids"]
    assert len(rec) == len(set(rec)) == min(k, len(G))
    assert set(rec) <= set(G)
    assert len(out["random"]["ids"]) == min(k, len(G))
    for key in ("recommended", "top_degree", "random", "current"):
        assert 0.0 <= out[key]["coverage_one_step"] <= out[key]["coverage_two_step"] <= 1.0
    by_team = coverage_by_team(G, champions, teams, steps=2)
    assert all(v is None or 0.0 <= v <= 1.0 for v in by_team.values())
