"""Champion suggestions aimed by network position, the holdout draw and the follow-through
statistics (`analytics.suggestions`)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import networkx as nx
import pytest

from analytics.suggestions import (
    follow_through,
    followed,
    kind_weights,
    suggest,
    unreached_groups,
    wilson,
    withheld,
)


def community(G: nx.DiGraph, prefix: str, size: int = 5) -> list[str]:
    """A tight group: everyone names the next one, the first names the last."""
    members = [f"{prefix}{i}" for i in range(size)]
    for i, m in enumerate(members):
        G.add_edge(m, members[(i + 1) % size], kinds="helped")
    return members


def bridge_graph(tied: bool = False) -> tuple[nx.DiGraph, dict[str, int]]:
    """Champion c named a and b; a is in touch with group X, b with group Y."""
    G = nx.DiGraph()
    xs, ys = community(G, "x"), community(G, "y")
    G.add_edge("c", "a", kinds="helped")
    G.add_edge("c", "b", kinds="helped")
    G.add_edge("a", xs[0], kinds="advice")
    G.add_edge(ys[0], "b", kinds="energy")
    if tied:
        G.add_edge("a", "b", kinds="helped")
    groups = {**dict.fromkeys(xs, 0), **dict.fromkeys(ys, 1), "c": 2, "a": 2, "b": 2}
    return G, groups


def test_two_people_who_each_reach_a_group_the_other_lacks_are_introduced() -> None:
    G, groups = bridge_graph()
    picks = suggest(G, ["c"], teams={}, communities=groups, min_group_size=5)["c"]
    intro = [p for p in picks if p.kind == "introduce_them"]
    assert [(p.subject, p.other) for p in intro] == [("a", "b")]
    G, groups = bridge_graph(tied=True)  # already connected: nothing to introduce
    picks = suggest(G, ["c"], teams={}, communities=groups, min_group_size=5)["c"]
    assert not [p for p in picks if p.kind == "introduce_them"]


def test_only_people_the_champion_named_are_introduced() -> None:
    G, groups = bridge_graph()
    G.remove_edge("c", "b")
    G.add_edge("b", "c", kinds="helped")  # b named the champion, not the other way
    picks = suggest(G, ["c"], teams={}, communities=groups, min_group_size=5)["c"]
    assert not [p for p in picks if p.kind == "introduce_them"]


def helpers_graph() -> nx.DiGraph:
    """h is named for help by four people; champion c1 is one step from h, c2 two steps."""
    G = nx.DiGraph()
    for n in ("p1", "p2", "p3", "p4"):
        G.add_edge(n, "h", kinds="helped")
    G.add_edge("c1", "h", kinds="energy")
    G.add_edge("c2", "p2", kinds="helped")
    return G


def test_a_helper_nobody_recognised_is_thanked_by_the_nearest_champion_only() -> None:
    G = helpers_graph()
    out = suggest(G, ["c1", "c2"], teams={}, communities={})
    assert [(p.kind, p.subject) for p in out["c1"]] == [("thank", "h")]
    assert all(p.subject != "h" for p in out["c2"])
    G.add_edge("p2", "h", kinds="helped,recognised")  # a kudos: no more "thank"
    out = suggest(G, ["c1", "c2"], teams={}, communities={})
    assert all(p.kind != "thank" for ps in out.values() for p in ps)


def test_blocked_people_and_kinds_are_not_suggested() -> None:
    G = helpers_graph()
    out = suggest(G, ["c1", "c2"], teams={}, communities={}, blocked={"c1": {("*", "h")}})
    # c1 may not have h now; the next nearest champion gets the suggestion instead
    assert not out["c1"] and [(p.kind, p.subject) for p in out["c2"]] == [("thank", "h")]
    out = suggest(G, ["c1"], teams={}, communities={}, blocked={"c1": {("say_hello", "h")}})
    assert [(p.kind, p.subject) for p in out["c1"]] == [("thank", "h")]


def rich_graph() -> tuple[nx.DiGraph, dict[str, str]]:
    """Champion c has a helper to thank, an unreached team and a newcomer to greet."""
    G = helpers_graph()
    G.remove_nodes_from(["c1", "c2"])
    teams = {n: "Core" for n in G}
    G.add_edge("c", "p1", kinds="helped")
    teams["c"] = "Core"
    for m in community(G, "far"):
        teams[m] = "Far"
    G.add_node("new")
    teams["new"] = "Core"
    return G, teams


def test_a_kind_the_champion_keeps_dismissing_comes_less_often() -> None:
    G, teams = rich_graph()
    kinds = lambda out: [p.kind for p in out["c"]]  # noqa: E731
    base = suggest(G, ["c"], teams=teams, communities={}, newcomers=["new"], per_champion=2)
    assert kinds(base) == ["say_hello", "introduce_yourself"]
    tired = {"c": kind_weights({"say_hello": (0, 3)})}
    out = suggest(G, ["c"], teams=teams, communities={}, newcomers=["new"], weights=tired,
                  per_champion=2)
    assert "say_hello" not in kinds(out) and len(kinds(out)) == 2
    # with nothing else to suggest, an unwelcome kind still fills the one slot
    alone = nx.DiGraph()
    alone.add_node("c")
    alone.add_node("new")
    out = suggest(alone, ["c"], teams={"c": "T", "new": "T"}, communities={}, newcomers=["new"],
                  weights=tired)
    assert kinds(out) == ["say_hello"]


def test_groups_under_the_minimum_size_are_never_named() -> None:
    G = nx.DiGraph()
    community(G, "s", size=4)
    G.add_edge("c", "x")
    teams = {**{f"s{i}": "Small" for i in range(4)}, "c": "Home", "x": "Home"}
    assert unreached_groups(G, ["c"], teams, {}, min_group_size=5) == []
    assert [g.label for g in unreached_groups(G, ["c"], teams, {}, min_group_size=4)] == [
        "Small"]
    out = suggest(G, ["c"], teams=teams, communities={}, min_group_size=5)
    assert not [p for p in out["c"] if p.kind == "introduce_yourself"]


def test_the_holdout_draw_is_uniform_stable_and_independent_of_the_salt() -> None:
    keys = [f"2026-W45:U{i}:thank:P{i}" for i in range(20_000)]
    share = sum(withheld(k, 0.2, "T1") for k in keys) / len(keys)
    assert abs(share - 0.2) < 0.01
    assert [withheld(k, 0.2, "T1") for k in keys[:50]] == [withheld(k, 0.2, "T1")
                                                          for k in keys[:50]]
    other = [withheld(k, 0.2, "T2") for k in keys]
    agree = sum(a == b for a, b in zip(other, (withheld(k, 0.2, "T1") for k in keys),
                                       strict=True)) / len(keys)
    assert abs(agree - (0.8 * 0.8 + 0.2 * 0.2)) < 0.02  # independent draws per workspace


def test_followed_counts_only_ties_inside_the_window_after_the_suggestion() -> None:
    t0 = datetime(2026, 1, 1)
    day = timedelta(days=1)
    assert followed(t0, [t0 + 30 * day], t0 + 40 * day) is True  # the last day counts
    assert followed(t0, [t0], t0 + 40 * day) is False  # not before or at the moment
    assert followed(t0, [], t0 + 29 * day) is None and followed(t0, [], t0 + 30 * day) is False


@pytest.mark.parametrize("p_shown,p_held", [(0.5, 0.1), (0.3, 0.3), (0.05, 0.02)])
def test_the_intervals_cover_the_truth_about_95_percent_of_the_time(p_shown: float,
                                                                    p_held: float) -> None:
    rng = random.Random(5)
    runs, covered_shown, covered_diff = 800, 0, 0
    for _ in range(runs):
        data = [("shown", rng.random() < p_shown) for _ in range(120)]
        data += [("withheld", rng.random() < p_held) for _ in range(30)]
        e = follow_through(data)
        assert e.shown.low is not None and e.low is not None and e.high is not None
        covered_shown += e.shown.low <= p_shown <= e.shown.high
        covered_diff += e.low <= p_shown - p_held <= e.high
    assert 0.92 <= covered_shown / runs <= 0.99
    assert 0.92 <= covered_diff / runs <= 0.995


def test_too_little_data_is_flagged_and_empty_arms_have_no_figure() -> None:
    e = follow_through([("shown", True)] * 30 + [("withheld", False)] * 5)
    assert not e.enough and e.difference == 1.0
    empty = follow_through([("shown", None)])
    assert empty.shown.rate is None and empty.difference is None and empty.open_shown == 1
    assert wilson(0, 10).low == 0.0 and wilson(10, 10).high == 1.0
