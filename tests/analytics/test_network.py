"""Network and team figures: Krackhardt E-I index, small-group suppression, networkx parity."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx
import pytest

from analytics.graph import build_graph
from analytics.model import Person, Tie
from analytics.network import (
    average_clustering,
    community_figures,
    e_i_index,
    network_figures,
    team_figures,
    team_matrix,
)

KRACKHARDT = Path("/work/shared/data/krackhardt")


def krackhardt(kind: str) -> tuple[nx.DiGraph, dict[str, str]]:
    with (KRACKHARDT / "people.csv").open(newline="") as f:
        people = [Person(row["id"], team=row["team"]) for row in csv.DictReader(f)]
    with (KRACKHARDT / f"ties-{kind}.csv").open(newline="") as f:
        ties = [Tie(row["source"], row["target"], kind=row["kind"]) for row in csv.DictReader(f)]
    G, _ = build_graph(ties, people)
    return G, {p.id: p.team for p in people}


@pytest.mark.parametrize(("kind", "expected"), [("advice", 0.516), ("friendship", 0.255)])
def test_krackhardt_e_i_index_by_department(kind: str, expected: float) -> None:
    G, teams = krackhardt(kind)
    assert e_i_index(G, teams) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(("kind", "expected"), [("advice", 0.517), ("friendship", 0.316)])
def test_krackhardt_e_i_index_counting_pairs_once(kind: str, expected: float) -> None:
    # The definitional difference documented in e_i_index: undirected pairs instead of ties.
    G, teams = krackhardt(kind)
    U = G.to_undirected()
    ext = sum(teams[u] != teams[v] for u, v in U.edges())
    internal = U.number_of_edges() - ext
    assert (ext - internal) / (ext + internal) == pytest.approx(expected, abs=5e-4)


def test_e_i_index_ignores_people_without_a_team() -> None:
    G = nx.DiGraph([("a", "b"), ("a", "c"), ("c", "d")])
    assert e_i_index(G, {"a": "x", "b": "x", "c": "y"}) == 0.0
    assert e_i_index(G, {}) is None


def test_team_figures_and_matrix_suppress_small_teams() -> None:
    G, teams = krackhardt("advice")
    rows = {row["team"]: row for row in team_figures(G, teams, ["2"])}
    assert rows["dept-2"]["size"] == 8 and not rows["dept-2"]["suppressed"]
    assert rows["dept-2"]["e_i_index"] is not None
    for small in ("dept-0", "dept-3", "dept-4"):
        row = rows[small]
        assert row["suppressed"]
        assert row["e_i_index"] is None and row["internal_ties"] is None
        assert row["champion_coverage"] == {"one_step": None, "two_step": None}
    big = rows["dept-2"]
    share = big["external_ties"] / (big["external_ties"] + big["internal_ties"])
    assert big["cross_team_share"] == pytest.approx(share)
    assert big["e_i_index"] == pytest.approx(2 * share - 1)

    matrix = team_matrix(G, teams)
    names = matrix["teams"]
    assert names == sorted(set(teams.values()))
    i1, i2 = names.index("dept-1"), names.index("dept-2")
    expected = sum(teams[u] == "dept-1" and teams[v] == "dept-2" for u, v in G.edges())
    assert matrix["counts"][i1][i2] == expected
    assert all(matrix["counts"][names.index("dept-0")][j] is None for j in range(len(names)))
    json.dumps(matrix, allow_nan=False)


def test_network_figures_match_networkx() -> None:
    G, teams = krackhardt("advice")
    fig = network_figures(G, [set(G)], 0.1, teams=teams, champions=["2", "nobody"])
    assert fig["people"] == 21 and fig["ties"] == 190
    assert fig["density"] == pytest.approx(nx.density(G))
    assert fig["reciprocity"] == pytest.approx(nx.reciprocity(G))
    assert fig["clustering"] == pytest.approx(nx.average_clustering(nx.Graph(G.to_undirected())))
    assert fig["components"] == 1 and fig["isolates"] == 0
    assert fig["champions"] == 1
    near = {"2"} | set(G.predecessors("2")) | set(G.successors("2"))
    assert fig["champion_coverage"]["one_step"] == pytest.approx(len(near) / 21)
    assert fig["e_i_index"] == pytest.approx(0.516, abs=5e-4)
    json.dumps(fig, allow_nan=False)


def test_tiny_network_ratios_are_suppressed_but_counts_shown() -> None:
    G = nx.DiGraph([("a", "b"), ("b", "a")])
    G.add_node("c")
    fig = network_figures(G, [{"a", "b"}], 0.5, teams={}, champions=[])
    assert fig["people"] == 3 and fig["ties"] == 2 and fig["isolates"] == 1
    # the isolate is counted as an isolate, not as a component (or community) of one
    assert fig["components"] == 1 and fig["communities"] == 1
    assert fig["density"] is None and fig["modularity"] is None
    assert fig["champion_coverage"] == {"one_step": None, "two_step": None}


def test_empty_network() -> None:
    fig = network_figures(nx.DiGraph(), [], 0.0, teams={}, champions=[])
    assert fig["people"] == 0 and fig["components"] == 0
    json.dumps(fig, allow_nan=False)
    assert team_figures(nx.DiGraph(), {}) == []
    assert team_matrix(nx.DiGraph(), {}) == {"teams": [], "counts": []}


def test_community_figures_hide_make_up_of_small_communities() -> None:
    out = community_figures([set("abcde"), {"f"}], {c: "x" for c in "abcdef"})
    assert out[0] == {"id": 0, "size": 5, "teams": {"x": 5}}
    assert out[1] == {"id": 1, "size": 1, "teams": None}


def test_average_clustering_equals_networkx() -> None:
    G = nx.gnp_random_graph(60, 0.1, seed=4, directed=True)
    assert average_clustering(G) == pytest.approx(
        nx.average_clustering(nx.Graph(G.to_undirected())), abs=1e-12
    )


def test_community_make_up_never_shows_a_small_group() -> None:
    # issue 10 item 14: "Tiny Team: 3" and "People & Culture: 1" were shown.
    teams = {**{f"s{i}": "Sales" for i in range(8)}, **{f"t{i}": "Tiny Team" for i in range(3)},
             "hr": "People & Culture", **{f"o{i}": "Ops" for i in range(6)}}
    community = {*(f"s{i}" for i in range(8)), *(f"t{i}" for i in range(3)), "hr", "o0", "o1"}
    out = community_figures([community, {f"o{i}" for i in range(2, 6)}], teams)
    assert out[0]["size"] == 14
    # Ops has 6 people in all but only 2 here: a group of 2, hidden too.
    assert out[0]["teams"] == {"Sales": 8}
    assert out[1]["teams"] is None
    for row in out:
        for count in (row["teams"] or {}).values():
            assert count >= 5
