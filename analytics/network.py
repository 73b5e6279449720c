"""Network-level and team-level figures: size, density, cohesion, E-I index, team matrix.

Every figure computed over a group of people goes through :func:`analytics.privacy.suppress`,
so a team (or a whole network) smaller than ``min_group_size`` shows None, never a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from analytics import champions as champions_mod
from analytics._arrays import GraphArrays, graph_arrays
from analytics.privacy import MIN_GROUP_SIZE, is_suppressed, suppress

__all__ = [
    "average_clustering",
    "community_figures",
    "e_i_index",
    "network_figures",
    "team_figures",
    "team_matrix",
]


def _edge_arrays(
    G: nx.DiGraph, arrays: GraphArrays | None = None
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Nodes and the distinct directed ties (no self-ties) as index arrays."""
    arr = arrays if arrays is not None else graph_arrays(G, weight=None)
    return arr.nodes, arr.src, arr.dst


def _codes(nodes: Sequence[Any], groups: Mapping[str, str]) -> tuple[np.ndarray, list[str]]:
    """Integer group code per node (-1: no group), and the sorted group names."""
    names = sorted({str(groups[n]) for n in nodes if groups.get(n)})
    code_of = {name: i for i, name in enumerate(names)}
    codes = np.array(
        [code_of[str(groups[n])] if groups.get(n) else -1 for n in nodes],
        dtype=np.int64,
    )
    return codes, names


def e_i_index(
    G: nx.DiGraph, groups: Mapping[str, str], arrays: GraphArrays | None = None
) -> float | None:
    """Krackhardt & Stern's E-I index of the ties across groups: ``(E - I) / (E + I)``.

    ``E`` counts ties between people of different groups, ``I`` ties inside a group. +1 means
    every tie crosses a group boundary, -1 every tie stays inside.

    Definitions used here: ties are the distinct *directed* ties of ``G``, unweighted, so a
    reciprocated pair counts twice (one tie each way); people with no group (missing or empty)
    are left out with their ties. Krackhardt & Stern (1988) counted undirected links between
    pairs; on Krackhardt's high-tech managers this directed count gives +0.516 for advice and
    +0.255 for friendship (the figures quoted with the data, from networkx on the directed
    files), while counting each connected pair once gives +0.517 for advice (110 external, 35
    internal pairs) and +0.316 for friendship (52 external, 27 internal): friendship is more
    often returned inside a department. The CEO is a department of one, so all of the CEO's
    ties count as external. ``tests/analytics/test_network.py`` checks all four figures.

    Returns None when no tie joins two people who both have a group.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b"), ("a", "c"), ("c", "a")])
    >>> e_i_index(G, {"a": "x", "b": "x", "c": "y"})
    0.3333333333333333
    >>> e_i_index(nx.DiGraph(), {}) is None
    True
    """
    nodes, rows, cols = _edge_arrays(G, arrays)
    codes, _ = _codes(nodes, groups)
    if rows.size == 0:
        return None
    cr, cc = codes[rows], codes[cols]
    known = (cr >= 0) & (cc >= 0)
    internal = int(np.count_nonzero(known & (cr == cc)))
    external = int(np.count_nonzero(known & (cr != cc)))
    if internal + external == 0:
        return None
    return (external - internal) / (external + internal)


def _team_sizes(G: nx.DiGraph, teams: Mapping[str, str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for node in G:
        team = teams.get(node)
        if team:
            sizes[str(team)] = sizes.get(str(team), 0) + 1
    return sizes


def team_matrix(
    G: nx.DiGraph,
    teams: Mapping[str, str],
    min_group_size: int = MIN_GROUP_SIZE,
    arrays: GraphArrays | None = None,
) -> dict[str, Any]:
    """Count of directed ties from each team (row) to each team (column).

    A cell is None when either team has fewer than ``min_group_size`` people, so a small
    team's ties are never shown, not even as a column of another team's row. People without a
    team are left out.

    Examples
    --------
    >>> G = nx.DiGraph([(i, (i + 1) % 10) for i in range(10)])
    >>> teams = {i: "a" if i < 5 else "b" for i in range(10)}
    >>> team_matrix(G, teams)
    {'teams': ['a', 'b'], 'counts': [[4, 1], [1, 4]]}
    >>> team_matrix(G, teams, min_group_size=6)["counts"]
    [[None, None], [None, None]]
    """
    nodes, rows, cols = _edge_arrays(G, arrays)
    codes, names = _codes(nodes, teams)
    sizes = _team_sizes(G, teams)
    k = len(names)
    counts = np.zeros((k, k), dtype=np.int64)
    if rows.size:
        cr, cc = codes[rows], codes[cols]
        known = (cr >= 0) & (cc >= 0)
        np.add.at(counts, (cr[known], cc[known]), 1)
    # Vectorised suppression (2,500 teams make 6 million cells): a cell is shown only when
    # both teams pass analytics.privacy.is_suppressed, the one threshold.
    shown = np.array([not is_suppressed(sizes[name], min_group_size) for name in names],
                     dtype=bool)
    cells = counts.astype(object)
    cells[~shown, :] = None
    cells[:, ~shown] = None
    table: list[list[int | None]] = cells.tolist()
    return {"teams": names, "counts": table}


def team_figures(
    G: nx.DiGraph,
    teams: Mapping[str, str],
    champions: Iterable[str] = (),
    min_group_size: int = MIN_GROUP_SIZE,
    arrays: GraphArrays | None = None,
) -> list[dict[str, Any]]:
    """Figures per formal team, small teams suppressed.

    For team T: ``internal_ties`` are directed ties with both people in T, ``external_ties``
    ties between a member of T and a member of another team (either direction);
    ``cross_team_share = external / (internal + external)``, ``e_i_index = (external -
    internal) / (external + internal)`` (see :func:`e_i_index`); ``champion_coverage`` is the
    share of T's members within one / two steps of any champion (ties either way), from
    :func:`analytics.champions.coverage_by_team`. When T has fewer than ``min_group_size``
    people every figure is None and ``suppressed`` is True; ``size`` is always shown.

    Examples
    --------
    >>> G = nx.DiGraph([(i, (i + 1) % 10) for i in range(10)])
    >>> teams = {i: "a" if i < 5 else "b" for i in range(10)}
    >>> rows = team_figures(G, teams)
    >>> rows[0]["team"], rows[0]["internal_ties"], rows[0]["external_ties"], rows[0]["e_i_index"]
    ('a', 4, 2, -0.3333333333333333)
    """
    nodes, rows, cols = _edge_arrays(G, arrays)
    codes, names = _codes(nodes, teams)
    sizes = _team_sizes(G, teams)
    k = len(names)
    internal = np.zeros(k, dtype=np.int64)
    external = np.zeros(k, dtype=np.int64)
    if rows.size:
        cr, cc = codes[rows], codes[cols]
        known = (cr >= 0) & (cc >= 0)
        same = known & (cr == cc)
        cross = known & (cr != cc)
        internal += np.bincount(cr[same], minlength=k)
        external += np.bincount(cr[cross], minlength=k) + np.bincount(cc[cross], minlength=k)
    champs = [c for c in champions if c in G]
    team_of = {n: str(teams[n]) for n in G if teams.get(n)}
    one = champions_mod.coverage_by_team(G, champs, team_of, 1, min_group_size=min_group_size,
                                         arrays=arrays)
    two = champions_mod.coverage_by_team(G, champs, team_of, 2, min_group_size=min_group_size,
                                         arrays=arrays)
    out: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        size = sizes[name]
        total = int(internal[i] + external[i])
        share = float(external[i] / total) if total else None
        e_i = float((external[i] - internal[i]) / total) if total else None
        out.append(
            {
                "team": name,
                "size": size,
                "e_i_index": suppress(e_i, size, min_group_size),
                "cross_team_share": suppress(share, size, min_group_size),
                "internal_ties": suppress(int(internal[i]), size, min_group_size),
                "external_ties": suppress(int(external[i]), size, min_group_size),
                "champion_coverage": {
                    "one_step": suppress(one.get(name), size, min_group_size),
                    "two_step": suppress(two.get(name), size, min_group_size),
                },
                "suppressed": suppress(False, size, min_group_size) is None,
            }
        )
    return out


def community_figures(
    communities: Sequence[set[Any]],
    teams: Mapping[str, str],
    min_group_size: int = MIN_GROUP_SIZE,
) -> list[dict[str, Any]]:
    """Size and team make-up of each community, small groups suppressed.

    ``teams`` is the make-up: formal team ("" for people without one) -> members of that
    team in the community. Every count is a figure about a group of people, so it goes
    through :func:`analytics.privacy.suppress` like the team figures do: a team is listed
    only when it has at least ``min_group_size`` members in the community and at least
    ``min_group_size`` members in all (a team whose own figures are hidden is never named
    with a count here either). The make-up of a community smaller than ``min_group_size``
    is None. ``size`` is always shown.

    Examples
    --------
    >>> teams = {**{c: "x" for c in "abcdef"}, "g": "tiny", "h": "tiny"}
    >>> community_figures([set("abcdefgh")], teams, min_group_size=2)
    [{'id': 0, 'size': 8, 'teams': {'x': 6, 'tiny': 2}}]
    >>> community_figures([set("abcdefgh")], teams, min_group_size=3)
    [{'id': 0, 'size': 8, 'teams': {'x': 6}}]
    """
    team_size: dict[str, int] = {}
    for team in teams.values():
        team_size[team or ""] = team_size.get(team or "", 0) + 1
    out: list[dict[str, Any]] = []
    for i, community in enumerate(communities):
        make_up: dict[str, int] = {}
        for node in community:
            team = teams.get(node) or ""
            make_up[team] = make_up.get(team, 0) + 1
        shown = {
            team: count
            for team, count in make_up.items()
            if suppress(count, min(count, team_size.get(team, count)), min_group_size)
            is not None
        }
        ordered = dict(sorted(shown.items(), key=lambda kv: (-kv[1], kv[0])))
        make_up_shown = suppress(ordered, len(community), min_group_size)
        out.append({"id": i, "size": len(community), "teams": make_up_shown})
    return out


def average_clustering(G: nx.Graph, arrays: GraphArrays | None = None) -> float | None:
    """Mean local clustering of the undirected unweighted view (networkx.average_clustering).

    Computed with one sparse product (triangles = diagonal of B @ B @ B, via (B @ B) * B).

    Examples
    --------
    >>> average_clustering(nx.complete_graph(4, create_using=nx.DiGraph))
    1.0
    """
    arr = arrays if arrays is not None else graph_arrays(G, weight=None)
    n = arr.n
    if n == 0:
        return None
    B = arr.undirected().astype(float)
    deg = np.diff(B.indptr).astype(float)
    twice_triangles = np.zeros(n)
    step = max(1, 2_000_000 // max(1, int(deg.mean() ** 2) + 1))
    for r0 in range(0, n, step):
        Bb = B[r0 : r0 + step]
        twice_triangles[r0 : r0 + step] = np.asarray((Bb @ B).multiply(Bb).sum(axis=1)).ravel()
    pairs = deg * (deg - 1.0)
    local = np.zeros(n)
    many = pairs > 0
    local[many] = twice_triangles[many] / pairs[many]
    return float(local.mean())


def network_figures(
    G: nx.DiGraph,
    communities: Sequence[set[Any]],
    modularity: float,
    *,
    teams: Mapping[str, str],
    champions: Iterable[str],
    min_group_size: int = MIN_GROUP_SIZE,
    arrays: GraphArrays | None = None,
) -> dict[str, Any]:
    """Headline figures of the whole network (the ``network`` block of metrics.json).

    ``ties`` counts distinct directed ties; ``density`` is ``ties / (n (n - 1))``;
    ``reciprocity`` the share of ties that are returned; ``clustering`` the mean local
    clustering of the undirected view; ``components`` the weakly connected components
    among connected people (isolates are counted apart, as ``isolates``, as communities
    leave them out too); ``e_i_index`` see :func:`e_i_index`; ``champion_coverage`` the
    share of everyone within one / two steps of a champion
    (:func:`analytics.champions.coverage`). Ratios describe the whole group, so they are
    None when the network has fewer than ``min_group_size`` people; counts are always
    shown. ``betweenness_method`` is read from ``G.graph`` (set by
    :func:`analytics.metrics.person_metrics`).

    Examples
    --------
    >>> G = nx.DiGraph([(i, (i + 1) % 6) for i in range(6)])
    >>> fig = network_figures(G, [set(range(6))], 0.0, teams={}, champions=[0])
    >>> fig["people"], fig["ties"], fig["density"], fig["components"]
    (6, 6, 0.2, 1)
    """
    n = G.number_of_nodes()
    _, rows, cols = _edge_arrays(G, arrays)
    m = int(rows.size)
    champs = sorted({c for c in champions if c in G}, key=str)

    density = m / (n * (n - 1)) if n > 1 else None
    if m:
        A = sp.csr_array((np.ones(m), (rows, cols)), shape=(n, n))
        mutual = int(A.multiply(A.T).sum())
        reciprocity: float | None = mutual / m
    else:
        reciprocity = None
    if n:
        und = sp.csr_array((np.ones(m), (rows, cols)), shape=(n, n))
        n_comp, labels = connected_components(und, directed=True, connection="weak")
        largest = int(np.bincount(labels).max())
        degree = np.bincount(rows, minlength=n) + np.bincount(cols, minlength=n)
        isolates = int(np.count_nonzero(degree == 0))
    else:
        n_comp, largest, isolates = 0, 0, 0
    one = champions_mod.coverage(G, champs, steps=1, arrays=arrays) if n else None
    two = champions_mod.coverage(G, champs, steps=2, arrays=arrays) if n else None

    def group(value: Any) -> Any:
        return suppress(value, n, min_group_size)

    return {
        "people": n,
        "ties": m,
        "density": group(density),
        "reciprocity": group(reciprocity),
        "clustering": group(average_clustering(G, arrays)),
        "components": int(n_comp) - isolates,
        "largest_component_share": group(largest / n if n else None),
        "isolates": isolates,
        "communities": len(communities),
        "modularity": group(float(modularity) if communities else None),
        "e_i_index": group(e_i_index(G, teams, arrays)),
        "champions": len(champs),
        "champion_coverage": {"one_step": group(one), "two_step": group(two)},
        "betweenness_method": G.graph.get("betweenness_method"),
    }
