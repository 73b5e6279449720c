"""The whole analysis in one call: ties and people in, graph plus typed result out.

This module only composes; every figure is defined (and documented) in the module that
computes it. The steps produce plain dicts, made JSON-safe (NaN and infinities never leave
this function) and read into the typed :class:`~analytics.results.AnalysisResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from analytics import champions as champions_mod
from analytics import diffusion as diffusion_mod
from analytics import roles as roles_mod
from analytics.communities import detect_communities, membership
from analytics.graph import build_graph
from analytics.jsonready import json_ready
from analytics.metrics import person_metrics
from analytics.model import Analysis, AnalysisOptions, Person, Tie
from analytics.network import community_figures, network_figures, team_figures, team_matrix
from analytics.results import AnalysisResult, options_dict

__all__ = ["LOUVAIN_SEEDS", "analyze", "json_safe"]

#: How many fixed seeds community detection tries (options.seed, options.seed + 1, ...); each
#: run of networkit's PLM takes 0.02-0.06 s at 10k people, so every size gets all of them.
LOUVAIN_SEEDS = 5


#: Kept under its old name: the one implementation is :func:`analytics.jsonready.json_ready`.
json_safe = json_ready


def analyze(
    ties: Iterable[Tie],
    people: Iterable[Person] | None = None,
    options: AnalysisOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> Analysis:
    """Run the full analysis and return the graph and its typed result.

    Steps: :func:`analytics.graph.build_graph`, :func:`analytics.metrics.person_metrics`,
    :func:`analytics.communities.detect_communities`, roles
    (:func:`analytics.roles.assign_roles`), network, team, team-matrix and community figures
    (:mod:`analytics.network`), champion picks (:func:`analytics.champions.compare_picks`) and
    the diffusion what-if (:func:`analytics.diffusion.what_if`). Every node of the returned
    graph gets ``community`` (int) and ``roles`` (comma-joined) attributes so it can be written
    to GEXF / GraphML as is.

    Parameters
    ----------
    ties : iterable of Tie
    people : iterable of Person, optional
        The roster; when None the people are the ids seen in the ties.
    options : AnalysisOptions, optional
    progress : callable, optional
        Called with a short message (step name and elapsed seconds) as each step ends.

    Returns
    -------
    Analysis
        ``graph``, ``result`` (an :class:`~analytics.results.AnalysisResult`, read by
        attribute; ``result.to_dict()`` is metrics.json, no NaN) and ``people`` (id ->
        Person, the people in the graph).

    Examples
    --------
    >>> from analytics.model import Tie
    >>> a = analyze([Tie("a", "b"), Tie("b", "c"), Tie("c", "a")])
    >>> a.result.network.people, [p.id for p in a.result.people]
    (3, ['a', 'b', 'c'])
    """
    options = options if options is not None else AnalysisOptions()
    started = time.perf_counter()

    def step(message: str) -> None:
        if progress is not None:
            progress(f"{message} ({time.perf_counter() - started:.1f}s)")

    people_list = None if people is None else list(people)
    G, report = build_graph(ties, people_list, options)
    step(f"graph built: {G.number_of_nodes()} people, {G.number_of_edges()} ties")

    metrics = person_metrics(G, seed=options.seed)
    step(f"person metrics ({G.graph.get('betweenness_method')} betweenness)")

    seeds = tuple(options.seed + i for i in range(LOUVAIN_SEEDS))
    communities, modularity = detect_communities(G, seeds=seeds)
    community_of = membership(communities)
    step(f"communities: {len(communities)}, modularity {modularity:.3f}")

    teams = {node: str(G.nodes[node].get("team") or "") for node in G}
    champions = sorted((n for n in G if G.nodes[n].get("champion")), key=str)
    roles = roles_mod.assign_roles(G, metrics, teams)
    step("roles")

    network = network_figures(
        G,
        communities,
        modularity,
        teams=teams,
        champions=champions,
        min_group_size=options.min_group_size,
    )
    teams_block = team_figures(G, teams, champions, options.min_group_size)
    matrix = team_matrix(G, teams, options.min_group_size)
    communities_block = community_figures(communities, teams, options.min_group_size)
    step("network and team figures")

    recommendation = champions_mod.compare_picks(
        G,
        options.champions_k,
        champions=champions,
        teams=teams,
        communities=community_of,
        seed=options.seed,
    )
    step("champion picks")
    recommended = list(recommendation.get("recommended", {}).get("ids", []))
    diffusion = diffusion_mod.what_if(
        G,
        champions,
        recommended,
        steps=options.diffusion_steps,
        runs=options.diffusion_runs,
        seed=options.seed,
    )
    step("diffusion what-if")

    by_role: dict[str, list[str]] = {role: [] for role in roles_mod.ROLE_RULES}
    people_rows: list[dict[str, Any]] = []
    for node in sorted(G, key=str):
        attrs = G.nodes[node]
        person_roles = list(roles.get(node, []))
        for role in person_roles:
            by_role.setdefault(role, []).append(node)
        community = community_of.get(node, -1)
        attrs["community"] = community
        attrs["roles"] = ",".join(person_roles)
        people_rows.append(
            {
                "id": node,
                "name": attrs.get("name", ""),
                "team": attrs.get("team", ""),
                "champion": bool(attrs.get("champion", False)),
                "community": community,
                **metrics[node],
                "roles": person_roles,
            }
        )

    report = dict(report)
    result = {
        "generated_at": datetime.now(UTC).isoformat(),
        "options": options_dict(options),
        "input": report,
        "network": network,
        "teams": teams_block,
        "team_matrix": matrix,
        "communities": communities_block,
        "people": people_rows,
        "roles": by_role,
        "role_rules": dict(roles_mod.ROLE_RULES),
        "recommendation": recommendation,
        "diffusion": diffusion,
    }
    roster = {p.id: p for p in people_list} if people_list is not None else {}
    in_graph = {node: roster.get(node, Person(id=node)) for node in G}
    step("done")
    typed = AnalysisResult.from_dict(json_safe(result))
    return Analysis(graph=G, result=typed, people=in_graph)
