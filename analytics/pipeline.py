"""The whole analysis in one call: ties and people in, graph plus typed result out.

This module only composes; every figure is defined (and documented) in the module that
computes it. The graph is converted to arrays once (:func:`analytics.graph.build_graph_arrays`)
and every step reads those arrays. Per-person figures stay numpy columns until they become
the typed :class:`~analytics.results.PersonResult` rows (NaN turned into None on the way);
the small blocks are plain dicts made JSON-safe once. NaN and infinities never leave this
function, so writers do not clean the result again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import numpy as np

from analytics import champions as champions_mod
from analytics import diffusion as diffusion_mod
from analytics import roles as roles_mod
from analytics._fork import can_fork, in_child
from analytics.communities import detect_communities, membership
from analytics.graph import TieColumns, build_graph_arrays
from analytics.jsonready import json_ready
from analytics.metrics import METRICS, betweenness_column, column_values, metric_columns
from analytics.model import Analysis, AnalysisOptions, Person, Tie
from analytics.network import community_figures, network_figures, team_figures, team_matrix
from analytics.results import (
    AnalysisResult,
    ChampionPicks,
    CommunityFigures,
    Diffusion,
    InputReport,
    NetworkFigures,
    PersonResult,
    TeamFigures,
    TeamMatrix,
)

__all__ = ["LOUVAIN_SEEDS", "analyze", "json_safe"]

#: How many fixed seeds community detection tries (options.seed, options.seed + 1, ...); each
#: run of networkit's PLM takes 0.02-0.06 s at 10k people, so every size gets all of them.
LOUVAIN_SEEDS = 5


#: Kept under its old name: the one implementation is :func:`analytics.jsonready.json_ready`.
json_safe = json_ready


def analyze(
    ties: Iterable[Tie] | TieColumns,
    people: Iterable[Person] | None = None,
    options: AnalysisOptions | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    processes: int = 1,
) -> Analysis:
    """Run the full analysis and return the graph and its typed result.

    Steps: :func:`analytics.graph.build_graph_arrays` (the graph and its one array view),
    :func:`analytics.metrics.metric_columns`,
    :func:`analytics.communities.detect_communities`, roles
    (:func:`analytics.roles.assign_roles`), network, team, team-matrix and community figures
    (:mod:`analytics.network`), champion picks (:func:`analytics.champions.compare_picks`) and
    the diffusion what-if (:func:`analytics.diffusion.what_if`). Every node of the returned
    graph gets ``community`` (int, -1 for isolates) and ``roles`` (comma-joined) attributes
    so it can be written to GEXF / GraphML as is.

    Parameters
    ----------
    ties : iterable of Tie, or TieColumns
        Tie events (the CSV reader hands over columns, the bot a list of ties).
    people : iterable of Person, optional
        The roster; when None the people are the ids seen in the ties.
    options : AnalysisOptions, optional
    progress : callable, optional
        Called with a short message (step name and elapsed seconds) as each step ends.
    processes : int, optional
        2 or more (where the system can fork): betweenness is computed in a second process
        while the other metrics, communities, figures, champion picks and the diffusion
        what-if are computed here (the same values either way). Default 1.

    Returns
    -------
    Analysis
        ``graph``, ``result`` (an :class:`~analytics.results.AnalysisResult`, read by
        attribute; ``result.to_dict()`` is metrics.json, no NaN), ``people`` (id ->
        Person, the people in the graph) and ``arrays`` (the graph's array view, reused by
        anyone who computes more on the same graph).

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
    G, report, arr = build_graph_arrays(ties, people_list, options)
    step(f"graph built: {G.number_of_nodes()} people, {G.number_of_edges()} ties")

    nodes = arr.nodes
    node_attrs = [G.nodes[node] for node in nodes]
    teams = {node: str(attrs.get("team") or "") for node, attrs in zip(nodes, node_attrs,
                                                                       strict=True)}
    team_names = sorted({t for t in teams.values() if t})
    team_code_of = {t: i for i, t in enumerate(team_names)}
    team_codes = np.array([team_code_of.get(teams[node], -1) for node in nodes], dtype=np.int64)
    W = arr.weighted()
    later = None
    if processes > 1 and can_fork() and W.shape[0] >= 3:
        # Betweenness (the costliest metric) in a second process, beside everything else
        # up to the roles, the first step that reads it.
        later = in_child(betweenness_column, W, seed=options.seed)
    columns, method = metric_columns(W, team_codes, seed=options.seed,
                                     with_betweenness=later is None)
    G.graph["betweenness_method"] = method
    step(f"person metrics ({method} betweenness{', in a second process' if later else ''})")

    seeds = tuple(options.seed + i for i in range(LOUVAIN_SEEDS))
    communities, modularity = detect_communities(G, seeds=seeds, arrays=arr)
    community_of = membership(communities)
    step(f"communities: {len(communities)}, modularity {modularity:.3f}")

    champions = [node for node, attrs in zip(nodes, node_attrs, strict=True)
                 if attrs.get("champion")]

    network = network_figures(
        G,
        communities,
        modularity,
        teams=teams,
        champions=champions,
        min_group_size=options.min_group_size,
        arrays=arr,
    )
    teams_block = team_figures(G, teams, champions, options.min_group_size, arrays=arr)
    matrix = team_matrix(G, teams, options.min_group_size, arrays=arr)
    communities_block = community_figures(communities, teams, options.min_group_size)
    step("network and team figures")

    recommendation = champions_mod.compare_picks(
        G,
        options.champions_k,
        champions=champions,
        teams=teams,
        communities=community_of,
        seed=options.seed,
        arrays=arr,
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
        arrays=arr,
    )
    step("diffusion what-if")

    if later is not None:
        columns["betweenness"] = later()
        step("betweenness")
    roles = roles_mod.roles_from_columns(arr, columns, teams)
    step("roles")

    # People: straight from the metric columns to typed rows (no per-person dict to clean).
    by_role: dict[str, list[str]] = {role: [] for role in roles_mod.ROLE_RULES}
    values = {key: column_values(columns[key]) for key in METRICS}
    community_list = [community_of.get(node, -1) for node in nodes]
    people_rows: list[PersonResult] = []
    metric_rows = zip(*(values[key] for key in METRICS), strict=True)
    for i, (node, attrs, figures) in enumerate(zip(nodes, node_attrs, metric_rows,
                                                   strict=True)):
        person_roles = roles.get(node, [])
        for role in person_roles:
            by_role.setdefault(role, []).append(node)
        attrs["community"] = community_list[i]
        attrs["roles"] = ",".join(person_roles)
        # positional (100,000 rows a run): the fields are id, name, team, champion,
        # community, METRICS, roles (tests/analytics/test_pipeline.py holds the order)
        people_rows.append(PersonResult(  # type: ignore[call-arg]  # (*figures: mypy cannot count)
            node, str(attrs.get("name", "")), str(attrs.get("team", "")),
            bool(attrs.get("champion", False)), community_list[i], *figures,
            tuple(person_roles),
        ))

    result = AnalysisResult(
        generated_at=datetime.now(UTC).isoformat(),
        options=options,
        input=InputReport.from_dict(json_safe(report)),
        network=NetworkFigures.from_dict(json_safe(network)),
        teams=tuple(TeamFigures.from_dict(row) for row in json_safe(teams_block)),
        team_matrix=TeamMatrix.from_dict(matrix),  # ints and None only: nothing to clean
        communities=tuple(CommunityFigures.from_dict(row)
                          for row in json_safe(communities_block)),
        people=tuple(people_rows),
        roles={role: tuple(ids) for role, ids in by_role.items()},
        role_rules=dict(roles_mod.ROLE_RULES),
        recommendation=ChampionPicks.from_dict(json_safe(recommendation)),
        diffusion=Diffusion.from_dict(json_safe(diffusion)),
    )
    roster = {p.id: p for p in people_list} if people_list is not None else {}
    in_graph = {node: roster.get(node, Person(id=node)) for node in nodes}
    step("done")
    return Analysis(graph=G, result=result, people=in_graph, arrays=arr)
