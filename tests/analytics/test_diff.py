"""Snapshot diff: ties, rising/fading, coverage change, team links, and who may appear."""

from __future__ import annotations

import json

import networkx as nx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics.diff import diff_snapshots
from analytics.model import Analysis
from analytics.pipeline import analyze

# diff_snapshots reads only the graphs: their result names nobody.
NOBODY = analyze([]).result


def snapshot(
    edges: list[tuple[str, str]],
    teams: dict[str, list[str]],
    champions: tuple[str, ...] = (),
) -> Analysis:
    G = nx.DiGraph()
    for team, members in teams.items():
        for person in members:
            G.add_node(person, team=team, champion=person in champions, name=person)
    G.add_edges_from(edges)
    return Analysis(graph=G, result=NOBODY)


SALES = [f"s{i}" for i in range(5)]
OPS = [f"o{i}" for i in range(5)]
LAB = [f"l{i}" for i in range(4)]  # a 4-person team: never reported on
TEAMS = {"sales": SALES, "ops": OPS, "lab": LAB}


def test_new_and_lost_ties() -> None:
    before = snapshot([("s0", "s1"), ("s1", "s2")], TEAMS)
    after = snapshot([("s1", "s2"), ("s2", "s3")], TEAMS)
    d = diff_snapshots(before, after)
    assert d["new_ties"] == [["s2", "s3"]]
    assert d["lost_ties"] == [["s0", "s1"]]
    assert d["ties"] == {"before": 2, "after": 2}


def test_people_gone_from_after_never_appear() -> None:
    with_gone = {**TEAMS, "ops": [*OPS, "gone"]}
    before = snapshot([("s0", "s1"), ("gone", "s0"), ("s2", "gone")], with_gone)
    after = snapshot([("s0", "s1")], TEAMS)
    d = diff_snapshots(before, after)
    assert "gone" not in json.dumps(d)
    assert d["lost_ties"] == []


def test_rising_and_fading_people() -> None:
    everyone = SALES + OPS
    before = snapshot([(p, "s0") for p in everyone if p != "s0"] + [("o1", "o0")], TEAMS)
    after = snapshot([(p, "o0") for p in everyone if p != "o0"] + [("s1", "s0")], TEAMS)
    d = diff_snapshots(before, after)
    assert d["rising"] == ["o0"]
    assert d["fading"] == ["s0"]


def test_coverage_change_follows_champion_reach() -> None:
    before = snapshot([("s0", "s1")], TEAMS, champions=("s0",))
    after = snapshot([("s0", "s1"), ("s1", "s2"), ("o0", "s0")], TEAMS, champions=("s0",))
    d = diff_snapshots(before, after)
    n = 14
    assert d["coverage"]["before"] == {"one_step": 2 / n, "two_step": 2 / n}
    assert d["coverage"]["after"] == {"one_step": 3 / n, "two_step": 4 / n}
    assert d["coverage_change"]["one_step"] == pytest.approx(1 / n)
    assert d["coverage_change"]["two_step"] == pytest.approx(2 / n)


def test_tiny_network_coverage_is_suppressed() -> None:
    small = {"t": ["a", "b", "c"]}
    d = diff_snapshots(snapshot([], small, ("a",)), snapshot([("a", "b")], small, ("a",)))
    assert d["coverage_change"] == {"one_step": None, "two_step": None}


def test_teams_connected_and_cut_off() -> None:
    before = snapshot([("s0", "o0")], TEAMS)
    after = snapshot([("o1", "s1"), ("s2", "s3")], TEAMS)
    d = diff_snapshots(before, after)
    # sales-ops tie exists in both (direction does not matter), so nothing changes
    assert d["teams_connected"] == [] and d["teams_cut_off"] == []
    after = snapshot([("s2", "s3")], TEAMS)
    assert diff_snapshots(before, after)["teams_cut_off"] == [["ops", "sales"]]
    assert diff_snapshots(after, before)["teams_connected"] == [["ops", "sales"]]


def test_four_person_team_pairs_hidden_five_person_shown() -> None:
    before = snapshot([], TEAMS)
    after = snapshot([("l0", "s0"), ("o0", "s0")], TEAMS)
    d = diff_snapshots(before, after)
    assert d["teams_connected"] == [["ops", "sales"]]  # lab (4 people) is left out
    d = diff_snapshots(before, after, min_group_size=4)
    assert d["teams_connected"] == [["lab", "sales"], ["ops", "sales"]]


def test_team_that_shrank_below_five_is_hidden() -> None:
    before = snapshot([("o0", "s0")], TEAMS)
    after = snapshot([], {**TEAMS, "ops": OPS[:4]})
    assert diff_snapshots(before, after)["teams_cut_off"] == []


ids = st.sampled_from([str(i) for i in range(7)])
graphs = st.tuples(
    st.lists(ids, max_size=7, unique=True),
    st.lists(st.tuples(ids, ids), max_size=15),
)


@settings(max_examples=60, deadline=None)
@example(before=([], []), after=([], []), champions=[])  # empty graphs
@example(before=(["0"], []), after=(["0"], []), champions=["0"])  # one person
@example(before=(["0", "1", "2"], []), after=(["1", "2"], []), champions=[])  # isolates
@example(before=([], [("0", "0")]), after=([], [("0", "0"), ("1", "1")]), champions=["0"])
@given(before=graphs, after=graphs, champions=st.lists(ids, max_size=3))
def test_any_pair_of_small_snapshots_gives_valid_diff(
    before: tuple[list[str], list[tuple[str, str]]],
    after: tuple[list[str], list[tuple[str, str]]],
    champions: list[str],
) -> None:
    # empty graphs, one person, all isolates, self-loops
    def make(nodes: list[str], edges: list[tuple[str, str]]) -> Analysis:
        G = nx.DiGraph()
        G.add_nodes_from(nodes)
        G.add_edges_from(edges)
        for n in G:
            G.nodes[n]["team"] = f"t{int(n) % 2}"
            G.nodes[n]["champion"] = n in champions
        return Analysis(graph=G, result=NOBODY)

    b, a = make(*before), make(*after)
    d = diff_snapshots(b, a, min_group_size=2)
    json.dumps(d)  # plain data
    assert all(u != v for u, v in d["new_ties"] + d["lost_ties"])
    assert all(a.graph.has_edge(u, v) for u, v in d["new_ties"])
    assert all(u in a.graph and v in a.graph for u, v in d["lost_ties"])
    assert set(d["rising"]).isdisjoint(d["fading"])
    for value in d["coverage_change"].values():
        assert value is None or -1.0 <= value <= 1.0
    for pair in d["teams_connected"] + d["teams_cut_off"]:
        assert pair[0] < pair[1]


def test_rising_people_are_listed_biggest_gain_first() -> None:
    from analytics.model import Person, Tie
    from analytics.pipeline import analyze

    people = [Person(f"p{i:02d}") for i in range(30)]
    before = analyze([Tie("p20", "p21")], people)
    # p01 gains 3 namers, p09 gains 9, p05 gains 6: ids sort the opposite way
    gains = {"p01": 3, "p09": 9, "p05": 6}
    ties = [Tie(f"p{10 + j:02d}", target) for target, n in gains.items() for j in range(n)]
    diff = diff_snapshots(before, analyze([*ties, Tie("p20", "p21")], people))
    assert diff["rising"] == ["p09", "p05", "p01"]
