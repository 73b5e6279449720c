"""Issue 12 in the pure analysis: people told apart, kinds of people kept apart with their
rules and orderings, honest counts, and prioritised actions derived from the data."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest

from analytics.actions import (
    MAX_ACTIONS,
    broker_dependence,
    champion_additions,
    prioritised_actions,
)
from analytics.champions import coverage
from analytics.labels import Who, analysis_labels, person_labels
from analytics.model import AnalysisOptions, Person, Tie
from analytics.people_kinds import people_kinds, rank
from analytics.pipeline import analyze
from analytics.stability import top_list_stability

FIRST = ["Ana", "Joao", "Naomi", "Kai"]


def test_every_label_is_unique_even_when_names_repeat() -> None:
    # 130 of 152 people shared a first name in the demo; here everyone does, some twice over
    people = [Who(f"U{i:03d}", FIRST[i % 4], ["Sales", "Data"][i % 2],
                  "Engineer" if i % 3 else "") for i in range(150)]
    labels = person_labels(people)
    assert len(set(labels.values())) == len(people)
    assert all(label.startswith(FIRST[i % 4] + " (") for i, label in
               enumerate(labels[p.id] for p in people))
    # a name that is unique needs no disambiguation
    assert person_labels([Who("U1", "Ana Silva", "Sales")]) == {"U1": "Ana Silva (Sales)"}


def test_analysis_labels_use_roster_full_name_and_team() -> None:
    a = analyze([Tie("a", "b")], [Person("a", name="Ana Silva", team="Sales"),
                                  Person("b", name="Ana Silva", team="Sales", title="CFO"),
                                  Person("c", name="Ana Silva", team="Sales")])
    labels = analysis_labels(a)
    assert labels == {"a": "Ana Silva (Sales, a)", "b": "Ana Silva (Sales, CFO)",
                      "c": "Ana Silva (Sales, c)"}


def test_rank_orders_by_score_then_name_then_id() -> None:
    labels = {"u1": "Zoe", "u2": "Ada", "u3": "Ada", "u4": "Kim"}
    assert rank({"u1": 5, "u2": 3, "u3": 3, "u4": 9}, labels) == ["u4", "u1", "u2", "u3"]
    assert rank({"u1": 1, "u4": 0}, labels, descending=False) == ["u4", "u1"]


def planted() -> tuple[list[Tie], list[Person]]:
    """A hub everyone asks, a practice everyone copies from someone else, an energiser, a
    generous recogniser, a newcomer and an isolated person: all different people."""
    people = [Person(f"s{i}", name=f"Sam {i}", team="Sales", joined_at="2025-01-01")
              for i in range(8)]
    people += [Person(f"d{i}", name=f"Dee {i}", team="Data", joined_at="2025-01-01")
               for i in range(8)]
    people += [Person("new", name="Nia New", team="Data", joined_at="2026-02-20"),
               Person("lone", name="Lou Lone", team="Sales", joined_at="2025-01-01")]
    when = {"occurred_at": None}
    ties = [Tie(f"s{i}", "s0", kind="helped", **when) for i in range(1, 8)]
    ties += [Tie(f"d{i}", "s0", kind="advice") for i in range(1, 8)]
    ties += [Tie(f"d{i}", "d1", kind="adopted") for i in range(2, 6)]
    ties += [Tie(f"s{i}", "s5", kind="energy") for i in range(1, 5)]
    ties += [Tie("d7", f"s{i}", kind="recognised") for i in range(1, 5)]
    ties += [Tie("d0", "d1", kind="helped"), Tie("new", "d0", kind="helped")]
    return ties, people


@pytest.fixture(scope="module")
def kinds_of_planted() -> dict[str, list[str]]:
    ties, people = planted()
    a = analyze(ties, people, AnalysisOptions(window_days=None, half_life_days=None))
    today = __import__("datetime").date(2026, 3, 1)
    return {k.key: [m.id for m in k.members] for k in people_kinds(a, today=today)}


def test_the_kinds_of_people_are_kept_apart(kinds_of_planted: dict[str, list[str]]) -> None:
    kinds = kinds_of_planted
    assert kinds["hyper_connected"][0] == "s0"
    assert kinds["influencer"] == ["d1"]
    assert kinds["energiser"] == ["s5"]
    assert kinds["generous_recogniser"] == ["d7"]
    assert kinds["newcomer"] == ["new"]
    assert kinds["isolated"] == ["lone"]
    # the hub is not an influencer, an energiser or a recogniser: different people
    for key in ("influencer", "energiser", "generous_recogniser", "newcomer", "isolated"):
        assert "s0" not in kinds[key]


def test_every_kind_has_a_written_rule_and_a_score() -> None:
    ties, people = planted()
    for kind in people_kinds(analyze(ties, people)):
        assert len(kind.rule) > 30 and kind.use and kind.score_name
        scores = [m.score for m in kind.members]
        expected = sorted(scores) if kind.key == "newcomer" else sorted(scores, reverse=True)
        assert scores == expected


def test_counts_are_honest_about_isolated_people() -> None:
    # two groups of five and seven isolated people: 2 communities, 2 components, 7 isolates
    people = [Person(f"p{i}", team="t") for i in range(17)]
    ties = [Tie(f"p{a}", f"p{b}") for a, b in itertools.permutations(range(5), 2)]
    ties += [Tie(f"p{a}", f"p{b}") for a, b in itertools.permutations(range(5, 10), 2)]
    net = analyze(ties, people).result.network
    assert (net.communities, net.components, net.isolates) == (2, 2, 7)


def test_champion_additions_match_brute_force_greedy() -> None:
    G = nx.relabel_nodes(nx.connected_watts_strogatz_graph(60, 4, 0.2, seed=3), str)
    D = G.to_directed()
    current = ["0"]
    before, adds = champion_additions(D, current, k=3)
    assert before == pytest.approx(coverage(D, current, steps=2))
    chosen = list(current)
    for add in adds:
        gains = {n: coverage(D, [*chosen, n], steps=2) for n in sorted(D) if n not in chosen}
        best = max(gains.values())
        assert gains[add.id] == pytest.approx(best)
        assert add.reach_after == pytest.approx(best)
        chosen.append(add.id)


def test_broker_dependence_counts_people_cut_off() -> None:
    # two cliques joined only through "bridge"
    G = nx.DiGraph()
    G.add_edges_from((f"a{i}", f"a{j}") for i in range(5) for j in range(5) if i != j)
    G.add_edges_from((f"b{i}", f"b{j}") for i in range(3) for j in range(3) if i != j)
    G.add_edges_from([("a0", "bridge"), ("bridge", "b0")])
    assert broker_dependence(G, ["bridge", "a1"]) == {"bridge": 3, "a1": 0}


def test_actions_find_a_silo_the_left_out_and_whom_to_add() -> None:
    people = [Person(f"s{i}", team="Sales") for i in range(8)]
    people += [Person(f"d{i}", team="Data", champion=i == 0) for i in range(8)]
    people += [Person("lone", team="Data")]
    ties = [Tie(f"s{i}", f"s{j}") for i in range(8) for j in range(8) if i != j]  # a silo
    ties += [Tie(f"d{i}", f"d{(i + 1) % 8}") for i in range(8)] + [Tie("s0", "d0")]
    ties += [Tie(f"d{i}", f"s{i}") for i in range(8)]  # Data turns outwards: 8 of 17 ties
    a = analyze(ties, people)
    actions = prioritised_actions(a.graph, a.result, top_list_stability(a.graph))
    keys = [x.key for x in actions]
    assert 3 <= len(actions) <= MAX_ACTIONS
    assert {"silo", "left_out", "add_champions"} <= set(keys)
    assert [x.urgency for x in actions] == sorted((x.urgency for x in actions), reverse=True)
    silo = next(x for x in actions if x.key == "silo")
    assert silo.teams == ("Sales",)
    assert next(x for x in actions if x.key == "left_out").people == ("lone",)
    add = next(x for x in actions if x.key == "add_champions")
    assert add.figures["after"] > add.figures["before"]
    champions = [p.id for p in a.result.people if p.champion]
    assert add.figures["after"] == pytest.approx(
        coverage(a.graph, [*champions, *add.people], steps=2))


def test_thin_data_comes_first() -> None:
    people = [Person(f"p{i}") for i in range(40)]
    a = analyze([Tie("p1", "p2"), Tie("p3", "p2")], people)
    actions = prioritised_actions(a.graph, a.result, top_list_stability(a.graph))
    assert actions[0].key == "more_answers"
