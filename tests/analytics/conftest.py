"""Shared fixtures for tests/analytics.

``analysis_factory`` builds a hand-made :class:`~analytics.model.Analysis` from a
metrics.json-shaped dict (read with :meth:`~analytics.results.AnalysisResult.from_dict`),
so the output writers (outputs, draw, html) can be tested on their own, without the real
pipeline. Its people include hostile text (``<script>``, ``<!channel>``, ``&``) to prove
every output escapes it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import networkx as nx
import pytest

from analytics.model import Analysis, AnalysisOptions, Person
from analytics.results import AnalysisResult, options_dict

HOSTILE_NAME = "<script>alert(1)</script>"
CHANNEL_NAME = "<!channel> Bob & co"
HOSTILE_TEAM = "R&D <b>lab</b>"

ROLE_RULES = {
    "central_connector": "named by many people: in-degree in the top 10%",
    "broker": "bridges otherwise separate people: betweenness in the top 10%",
    "boundary_spanner": "at least half of their ties cross to other teams",
    "peripheral": "one tie or fewer",
    "isolate": "no tie at all",
}


def _small_people() -> list[Person]:
    teams = ["Sales"] * 6 + [HOSTILE_TEAM] * 6 + ["Ops"] * 3
    names = [f"Person {i}" for i in range(15)]
    names[0] = HOSTILE_NAME
    names[7] = CHANNEL_NAME
    return [
        Person(
            id=f"U{i:02d}",
            name=names[i],
            team=teams[i],
            champion=i in (0, 8),
            attrs={"level": str(i % 3)},
        )
        for i in range(15)
    ]


def _small_edges() -> list[tuple[str, str, float]]:
    edges: list[tuple[str, str, float]] = []
    for block in (range(0, 6), range(6, 12)):
        ids = list(block)
        for a in ids:
            for b in ids:
                if a != b and (a + b) % 3 != 0:
                    edges.append((f"U{a:02d}", f"U{b:02d}", 1.0 + (a * b) % 3))
    edges += [("U02", "U07", 2.0), ("U07", "U02", 1.0), ("U12", "U00", 1.0), ("U13", "U12", 1.0)]
    return edges  # U14 stays an isolate


def _big(n: int, seed: int) -> tuple[list[Person], list[tuple[str, str, float]]]:
    rng = random.Random(seed)
    groups = 12
    people = [
        Person(id=f"P{i:05d}", name=f"P{i}", team=f"team-{i % groups}", champion=i % 97 == 0)
        for i in range(n)
    ]
    edges = []
    for i in range(n):
        for _ in range(3):
            same = rng.random() < 0.85
            j = (i % groups) + groups * rng.randrange(n // groups) if same else rng.randrange(n)
            if j != i and j < n:
                edges.append((f"P{i:05d}", f"P{j:05d}", 1.0))
    return people, edges


def make_analysis(
    *,
    size: int | None = None,
    seed: int = 0,
    min_group_size: int = 5,
    opted_out: Person | None = None,
) -> Analysis:
    """A hand-made Analysis in the contract's shape; ``size`` builds a large random one."""
    if size is None:
        people, edges = _small_people(), _small_edges()
    else:
        people, edges = _big(size, seed)
    graph = nx.DiGraph()
    for person in people:
        graph.add_node(
            person.id, name=person.name, team=person.team, champion=person.champion, **person.attrs
        )
    for source, target, weight in edges:
        if graph.has_edge(source, target):
            graph[source][target]["weight"] += weight
            graph[source][target]["count"] += 1
        else:
            graph.add_edge(source, target, weight=weight, count=1, kinds="helped")

    undirected = graph.to_undirected()
    communities = sorted(
        nx.community.louvain_communities(undirected, seed=seed),
        key=lambda c: (-len(c), min(c)),
    )
    community_of = {node: index for index, members in enumerate(communities) for node in members}
    pagerank = nx.pagerank(graph)
    betweenness = (
        nx.betweenness_centrality(graph, k=min(50, len(graph)), seed=seed)
        if len(graph) > 200
        else nx.betweenness_centrality(graph)
    )
    teams = {p.id: p.team for p in people}
    team_sizes: dict[str, int] = {}
    for team in teams.values():
        team_sizes[team] = team_sizes.get(team, 0) + 1
    roles: dict[str, list[str]] = {role: [] for role in ROLE_RULES}
    rows: list[dict[str, Any]] = []
    top_in = sorted(graph, key=lambda n: (-graph.in_degree(n), n))[: max(1, len(graph) // 10)]
    for node in sorted(graph):
        degree = graph.degree(node)
        own = []
        if degree == 0:
            own.append("isolate")
        elif degree <= 1:
            own.append("peripheral")
        if node in top_in and degree:
            own.append("central_connector")
        for role in own:
            roles[role].append(node)
        graph.nodes[node]["community"] = community_of[node]
        graph.nodes[node]["roles"] = ",".join(own)
        rows.append(
            {
                "id": node,
                "name": graph.nodes[node]["name"],
                "team": teams[node],
                "champion": graph.nodes[node]["champion"],
                "community": community_of[node],
                "in_degree": graph.in_degree(node),
                "out_degree": graph.out_degree(node),
                "in_strength": float(graph.in_degree(node, weight="weight")),
                "out_strength": float(graph.out_degree(node, weight="weight")),
                "reciprocity": 0.5 if degree else None,
                "betweenness": betweenness[node],
                "pagerank": pagerank[node],
                "constraint": None if degree == 0 else 0.4,
                "effective_size": float(degree),
                "clustering": 0.0,
                "two_step_reach": degree,
                "cross_team_share": 0.25 if degree else None,
                "roles": own,
            }
        )
    team_names = sorted(team_sizes)
    small = {t for t in team_names if team_sizes[t] < min_group_size}
    counts: list[list[int | None]] = []
    for source_team in team_names:
        row: list[int | None] = []
        for target_team in team_names:
            if source_team in small or target_team in small:
                row.append(None)
            else:
                row.append(
                    sum(
                        1
                        for a, b in graph.edges
                        if teams[a] == source_team and teams[b] == target_team
                    )
                )
        counts.append(row)
    champions = sorted(p.id for p in people if p.champion)
    pick = {"ids": champions, "coverage_one_step": 0.4, "coverage_two_step": 0.8}
    curve = [round(0.1 + 0.08 * step, 4) for step in range(11)]
    result: dict[str, Any] = {
        "generated_at": "2024-03-01T00:00:00+00:00",
        "options": options_dict(AnalysisOptions(seed=seed, min_group_size=min_group_size)),
        "input": {
            "ties_read": len(edges) + 2,
            "ties_used": len(edges),
            "self_ties_dropped": 2,
            "unknown_ids": ["<img src=x onerror=alert(2)>", "U99"],
            "unknown_ties_dropped": 2,
            "outside_window": 0,
            "filtered_kind": 0,
            "invalid_weight": 0,
            "removed_people": 1 if opted_out else 0,
            "removed_ties_dropped": 0,
            "window_end": "2024-03-01T00:00:00+00:00",
        },
        "network": {
            "people": graph.number_of_nodes(),
            "ties": graph.number_of_edges(),
            "density": nx.density(graph),
            "reciprocity": 0.4321,
            "clustering": 0.3,
            "components": nx.number_weakly_connected_components(graph)
            - nx.number_of_isolates(graph),
            "largest_component_share": 0.9,
            "isolates": nx.number_of_isolates(graph),
            "communities": len(communities),
            "modularity": 0.4123,
            "e_i_index": -0.52,
            "champions": len(champions),
            "champion_coverage": {"one_step": 0.4, "two_step": 0.8},
            "betweenness_method": "exact",
        },
        "teams": [
            {
                "team": team,
                "size": team_sizes[team],
                "e_i_index": None if team in small else -0.5,
                "cross_team_share": None if team in small else 0.2,
                "internal_ties": None if team in small else 10,
                "external_ties": None if team in small else 2,
                "champion_coverage": {
                    "one_step": None if team in small else 0.5,
                    "two_step": None if team in small else 1.0,
                },
                "suppressed": team in small,
            }
            for team in team_names
        ],
        "team_matrix": {"teams": team_names, "counts": counts},
        "communities": [
            {
                "id": index,
                "size": len(members),
                "teams": None
                if len(members) < min_group_size
                else {t: sum(1 for m in members if teams[m] == t) for t in team_names},
            }
            for index, members in enumerate(communities)
        ],
        "people": rows,
        "roles": roles,
        "role_rules": dict(ROLE_RULES),
        "recommendation": {
            "k": len(champions),
            "recommended": {
                **pick,
                "ids": [rows[1]["id"], rows[7]["id"]],
                "coverage_two_step": 0.93,
            },
            "top_degree": {**pick, "ids": top_in[:2], "coverage_two_step": 0.7},
            "random": {**pick, "ids": [rows[3]["id"], rows[4]["id"]], "coverage_two_step": 0.5},
            "current": pick,
        },
        "diffusion": {
            "steps": 10,
            "runs": 200,
            "p": 0.1,
            "models": {
                "independent_cascade": {
                    "current": curve,
                    "recommended": [min(1.0, v * 1.3) for v in curve],
                },
                "linear_threshold": {
                    "current": [v * 0.8 for v in curve],
                    "recommended": [v * 0.9 for v in curve],
                },
            },
        },
    }
    by_id = {p.id: p for p in people}
    if opted_out is not None:
        # The pipeline keeps the Person record but removes them from graph and result.
        by_id[opted_out.id] = opted_out
    return Analysis(graph=graph, result=AnalysisResult.from_dict(result), people=by_id)


@pytest.fixture
def analysis_factory() -> Callable[..., Analysis]:
    """``analysis_factory(size=None, seed=0, min_group_size=5, opted_out=None)``."""
    return make_analysis
