"""Roles follow their documented rules on named graphs, at scale, and on degenerate input."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics.roles import ROLE_RULES, ROLES, assign_roles, people_by_role, rising_fading

KRACKHARDT = Path("/work/shared/data/krackhardt")


def stub_metrics(G: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """The few person metrics roles read, computed with plain networkx.

    Stands in for analytics.metrics.person_metrics (helper A1) so these tests do not depend
    on it; same definitions: directed betweenness, Burt constraint on the undirected view.
    """
    if len(G) == 0:
        return {}
    U = nx.Graph(G.to_undirected())
    U.remove_edges_from(list(nx.selfloop_edges(U)))
    betweenness = nx.betweenness_centrality(G)
    constraint = nx.constraint(U)
    out: dict[str, dict[str, Any]] = {}
    for n in G:
        c = constraint.get(n)
        out[n] = {
            "in_degree": sum(1 for p in G.predecessors(n) if p != n),
            "out_degree": sum(1 for s in G.successors(n) if s != n),
            "betweenness": betweenness[n],
            "constraint": None if c is None or c != c else c,
        }
    return out


def karate() -> tuple[nx.DiGraph, dict[str, str]]:
    K = nx.karate_club_graph()
    G = nx.relabel_nodes(K, str).to_directed()
    teams = {str(n): K.nodes[n]["club"] for n in K}
    return nx.DiGraph(G), teams


def krackhardt_advice() -> tuple[nx.DiGraph, dict[str, str]]:
    G = nx.DiGraph()
    with (KRACKHARDT / "people.csv").open(newline="") as f:
        teams = {row["id"]: row["team"] for row in csv.DictReader(f)}
    G.add_nodes_from(teams)
    with (KRACKHARDT / "ties-advice.csv").open(newline="") as f:
        G.add_edges_from((row["source"], row["target"]) for row in csv.DictReader(f))
    return G, teams


def test_rules_documented_for_every_role() -> None:
    assert set(ROLE_RULES) == set(ROLES)
    assert all(len(text) > 20 for text in ROLE_RULES.values())
    assert assign_roles.__doc__ is not None and "90th percentile" in assign_roles.__doc__


def test_karate_leaders_are_central_connectors_and_brokers() -> None:
    G, teams = karate()
    roles = assign_roles(G, stub_metrics(G), teams)
    assert set(roles) == set(G)
    for leader in ("0", "33"):
        assert "central_connector" in roles[leader]
        assert "broker" in roles[leader]
    assert not any("isolate" in r for r in roles.values())
    # node 11 has a single tie (to 0): the textbook peripheral
    assert "peripheral" in roles["11"]


def test_florentine_medici_is_broker_and_pucci_isolate() -> None:
    G = nx.DiGraph(nx.florentine_families_graph().to_directed())
    G.add_node("Pucci")
    roles = assign_roles(G, stub_metrics(G), teams={})
    assert "broker" in roles["Medici"]
    assert roles["Pucci"] == ["isolate"]
    # no teams known -> no boundary spanners
    assert not any("boundary_spanner" in r for r in roles.values())


def test_krackhardt_advice_central_connectors_are_the_in_degree_leaders() -> None:
    G, teams = krackhardt_advice()
    roles = assign_roles(G, stub_metrics(G), teams)
    connectors = {p for p, r in roles.items() if "central_connector" in r}
    assert {"2", "18", "21"} <= connectors
    spanners = {p for p, r in roles.items() if "boundary_spanner" in r}
    assert spanners, "departments are known, someone must span them"
    for p in spanners:
        reached = {teams[q] for q in nx.all_neighbors(G, p)} - {teams[p]}
        assert len(reached) >= 2


def test_regular_network_gives_no_relative_role() -> None:
    G = nx.DiGraph(nx.cycle_graph(12).to_directed())
    G = nx.relabel_nodes(G, str)
    roles = assign_roles(G, stub_metrics(G), {n: f"t{int(n) % 3}" for n in G})
    assert all(r == [] for r in roles.values())


def test_people_by_role_lists_every_role() -> None:
    G, teams = karate()
    inverted = people_by_role(assign_roles(G, stub_metrics(G), teams))
    assert set(inverted) == set(ROLES)
    assert inverted["central_connector"] == sorted(inverted["central_connector"])


@pytest.mark.slow
def test_roles_scale_to_100k_people_in_seconds() -> None:
    rng = np.random.default_rng(0)
    n, m = 100_000, 1_000_000
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    G = nx.DiGraph()
    G.add_nodes_from(str(i) for i in range(n))
    G.add_edges_from(zip(map(str, src.tolist()), map(str, dst.tolist()), strict=True))
    indeg = dict(G.in_degree())
    outdeg = dict(G.out_degree())
    metrics = {
        p: {"in_degree": indeg[p], "out_degree": outdeg[p], "betweenness": float(rng.random()),
            "constraint": float(rng.random())}
        for p in G
    }
    teams = {p: f"team-{int(p) % 40}" for p in G}
    start = time.perf_counter()
    roles = assign_roles(G, metrics, teams)
    elapsed = time.perf_counter() - start
    assert len(roles) == n
    assert elapsed < 30, elapsed


def test_rising_and_fading_only_for_people_in_both_snapshots() -> None:
    before = {p: {"in_degree": d} for p, d in zip("abcdef", [6, 5, 4, 3, 2, 1], strict=True)}
    after = {p: {"in_degree": d} for p, d in zip("abcdeg", [1, 5, 4, 3, 6, 9], strict=True)}
    result = rising_fading(before, after)
    assert result == {"rising": ["e"], "fading": ["a"]}
    # the newcomer g and the leaver f never appear
    assert "g" not in result["rising"] and "f" not in result["fading"]


def test_rising_needs_a_real_in_degree_gain() -> None:
    before = {p: {"in_degree": 1} for p in "abcde"}
    after = {p: {"in_degree": 1} for p in "abcde"}
    assert rising_fading(before, after) == {"rising": [], "fading": []}


def test_rising_fading_degenerate_inputs() -> None:
    assert rising_fading({}, {}) == {"rising": [], "fading": []}
    assert rising_fading({"a": {}}, {"a": {"in_degree": 3}}) == {"rising": [], "fading": []}


ids = st.sampled_from([str(i) for i in range(8)])


@settings(max_examples=60, deadline=None)
@example(nodes=[], edges=[], teams={})  # empty graph
@example(nodes=["0"], edges=[], teams={"0": "a"})  # one person
@example(nodes=["0", "1", "2"], edges=[], teams={})  # all isolates
@example(nodes=[], edges=[("0", "0"), ("1", "1"), ("0", "1")], teams={})  # self-loops
@given(
    nodes=st.lists(ids, max_size=8, unique=True),
    edges=st.lists(st.tuples(ids, ids), max_size=20),
    teams=st.dictionaries(ids, st.sampled_from(["", "a", "b", "c"])),
)
def test_any_small_graph_gets_valid_roles(
    nodes: list[str], edges: list[tuple[str, str]], teams: dict[str, str]
) -> None:
    # covers the empty graph, one person, all isolates and self-loops
    G = nx.DiGraph()
    G.add_nodes_from(nodes)
    G.add_edges_from(edges)
    roles = assign_roles(G, stub_metrics(G), teams)
    assert set(roles) == set(G)
    for person, held in roles.items():
        assert set(held) <= set(ROLES)
        tied = any(v != person for v in nx.all_neighbors(G, person))
        assert ("isolate" in held) == (not tied)
        if "isolate" in held:
            assert held == ["isolate"]


def test_average_ranks_equal_scipy_rankdata() -> None:
    import numpy as np
    from scipy.stats import rankdata

    from analytics.roles import _average_ranks

    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.integers(0, 5, int(rng.integers(1, 30))).astype(float)
        assert np.allclose(_average_ranks(values), rankdata(values, method="average"))
