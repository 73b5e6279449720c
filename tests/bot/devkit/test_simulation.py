"""The simulated organisation is deterministic, Slack-shaped, and its hidden structure is
recoverable from the ties its people produce."""

from __future__ import annotations

import csv
import random
import statistics
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from networkx.algorithms.community import modularity
from slack_sdk import WebClient

from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import Organisation, simulate_organisation


@pytest.fixture(scope="module")
def org() -> Organisation:
    return simulate_organisation(n_people=150, n_teams=8, seed=0)


def tie_graph(org: Organisation, rounds: int = 4, seed: int = 1) -> nx.DiGraph:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(p.id for p in org.people)
    graph.add_edges_from(org.simulate_ties(rounds=rounds, seed=seed))
    return graph


def test_same_seed_same_organisation_other_seed_other_one(org: Organisation) -> None:
    again = simulate_organisation(n_people=150, n_teams=8, seed=0)
    assert again.users == org.users
    assert again.community_of == org.community_of
    assert again.simulate_ties(seed=3) == org.simulate_ties(seed=3)
    assert simulate_organisation(seed=1).users != org.users


def test_people_teams_and_managers(org: Organisation) -> None:
    assert len(org.people) == 150
    assert len(org.teams) == 8
    assert sum(len(m) for m in org.teams.values()) == 150
    ids = {p.id for p in org.people}
    assert len(ids) == 150 and all(i.startswith("U") for i in ids)
    assert len({p.email for p in org.people}) == 150
    bosses = [p for p in org.people if p.manager is None]
    assert len(bosses) == 1  # the chief executive
    for p in org.people:
        assert p.manager is None or p.manager in ids
        assert p.title and p.tz and p.real_name
    for team, manager in org.managers.items():
        assert org.person(manager).team == team


def test_users_look_like_users_list(org: Organisation) -> None:
    kinds = {"people": 0, "bots": 0, "deleted": 0, "slackbot": 0}
    for user in org.users:
        assert {
            "id",
            "team_id",
            "name",
            "real_name",
            "deleted",
            "is_bot",
            "is_app_user",
            "tz",
            "profile",
        } <= set(user)
        assert {"email", "display_name", "real_name", "title"} <= set(user["profile"])
        if user["id"] == "USLACKBOT":
            kinds["slackbot"] += 1
            assert user["is_bot"] is False
        elif user["is_bot"]:
            kinds["bots"] += 1
        elif user["deleted"]:
            kinds["deleted"] += 1
        else:
            kinds["people"] += 1
    assert kinds == {"people": 150, "bots": 3, "deleted": 1, "slackbot": 1}


def test_hidden_structure_has_every_role(org: Organisation) -> None:
    communities = org.hidden_communities
    assert 5 <= len(communities) <= 9
    assert sorted(p for c in communities for p in c) == sorted(p.id for p in org.people)
    roles = [set(org.brokers), set(org.hyper_connected), set(org.isolated)]
    assert all(roles) and not (roles[0] & roles[1] or roles[0] & roles[2] or roles[1] & roles[2])
    # communities cut across teams: most communities span at least three teams
    spans = [len({org.team_of(p) for p in c}) for c in communities]
    assert statistics.median(spans) >= 3


def test_sample_named_never_names_oneself_or_twice(org: Organisation) -> None:
    rng = random.Random(5)
    people = {p.id for p in org.people}
    for p in org.people:
        named = org.sample_named(p.id, rng, k_max=5)
        assert 1 <= len(named) <= 5
        assert p.id not in named and len(set(named)) == len(named)
        assert set(named) <= people
    assert org.sample_named(org.people[0].id, rng, k_max=0) == []
    assert all(len(org.sample_named(p.id, rng, k_max=1)) == 1 for p in org.people[:20])


def test_respond_probability_is_a_probability_and_follows_roles(org: Organisation) -> None:
    probs = {p.id: org.respond_probability(p.id) for p in org.people}
    assert all(0 < v < 1 for v in probs.values())
    assert max(probs[i] for i in org.isolated) < min(probs[h] for h in org.hyper_connected)


def test_hidden_communities_are_recoverable_from_sampled_ties(org: Organisation) -> None:
    graph = tie_graph(org).to_undirected()
    assert modularity(graph, org.hidden_communities) > 0.3
    teams = [set(m) for m in org.teams.values()]
    assert modularity(graph, org.hidden_communities) > modularity(graph, teams)
    found = nx.community.louvain_communities(graph, seed=0)
    assert modularity(graph, found) > 0.3


def test_brokers_bridge_hyper_connected_are_named_isolated_are_not(org: Organisation) -> None:
    graph = tie_graph(org)
    betweenness = nx.betweenness_centrality(graph)
    median = statistics.median(betweenness.values())
    assert all(betweenness[b] > median for b in org.brokers)
    in_degree = dict(graph.in_degree())
    typical = statistics.median(in_degree.values())
    assert all(in_degree[h] > 2 * typical for h in org.hyper_connected)
    assert statistics.mean(in_degree[i] for i in org.isolated) < 1


def test_roster_and_people_csv(org: Organisation, tmp_path: Path) -> None:
    with org.roster_csv(tmp_path / "roster.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["slack_id", "email", "team", "manager", "title"]
    assert len(rows) == 150
    first = org.person(rows[0]["slack_id"])
    assert rows[0]["email"] == first.email and rows[0]["team"] == first.team
    with org.people_csv(tmp_path / "people.csv").open(newline="") as handle:
        people = list(csv.DictReader(handle))
    assert list(people[0])[:2] == ["id", "name"] and len(people) == 150


def test_small_and_large_organisations(tmp_path: Path) -> None:
    tiny = simulate_organisation(n_people=6, n_teams=3, seed=2)
    assert len(tiny.people) == 6 and len(tiny.teams) == 3
    tiny.simulate_ties(rounds=2)
    big = simulate_organisation(n_people=2000, n_teams=20, seed=3)
    assert len({p.id for p in big.people}) == 2000
    assert len({p.email for p in big.people}) == 2000


def test_sandbox_serves_the_organisation(org: Organisation) -> None:
    with SlackSandbox(max_page_size=40) as sandbox:
        sandbox.add_users(org.users)
        for group_id, group_members in org.usergroups.items():
            sandbox.add_usergroup(group_id, group_members)
        client = WebClient(token=sandbox.token, base_url=sandbox.base_url)
        members: list[dict[str, Any]] = []
        for page in client.users_list(limit=200):
            members.extend(page.get("members", []))
        humans = [
            m for m in members if not m["deleted"] and not m["is_bot"] and m["id"] != "USLACKBOT"
        ]
        assert {m["id"] for m in humans} == {p.id for p in org.people}
        group = next(iter(org.usergroups))
        assert client.usergroups_users_list(usergroup=group)["users"] == org.usergroups[group]
