"""Network roles (Cross & Prusak) with explicit rules, and "rising"/"fading" between snapshots.

Every rule is relative to the network it is applied to (percentiles over the connected
people), so the same rule makes sense for a team of 10 and an organisation of 100k. Each
percentile rule also asks the person to be strictly beyond the median, so a perfectly regular
network (everyone alike) gives nobody a role rather than everybody.

Everything is vectorised over people (numpy), O(n log n + m log m) for n people and m ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np

from analytics._arrays import GraphArrays, graph_arrays, unique_ints

__all__ = [
    "BOTTOM_QUANTILE",
    "RISING_THRESHOLD",
    "ROLES",
    "ROLE_RULES",
    "TOP_QUANTILE",
    "assign_roles",
    "people_by_role",
    "rising_fading",
    "roles_from_columns",
]

#: Share of connected people counted as "top" for the central connector, broker and boundary
#: spanner rules (0.9 = the top 10 %).
TOP_QUANTILE = 0.9
#: Quantile under which a connected person counts as peripheral (0.1 = the bottom 10 %).
BOTTOM_QUANTILE = 0.1
#: Percentile-rank points of in-degree a person must gain (lose) between snapshots to be
#: rising (fading).
RISING_THRESHOLD = 0.2

ROLES = (
    "central_connector",
    "broker",
    "boundary_spanner",
    "peripheral",
    "isolate",
    "rising",
    "fading",
)

ROLE_RULES: dict[str, str] = {
    "central_connector": (
        "Named by many: in-degree at or above the 90th percentile of connected people and "
        "strictly above their median."
    ),
    "broker": (
        "Bridges otherwise separate parts: betweenness at or above the 90th percentile of "
        "connected people, strictly above their median and above zero, and Burt constraint "
        "at or below the median of connected people."
    ),
    "boundary_spanner": (
        "Links their team to others: ties (either direction) with people of at least 2 other "
        "teams, and a number of cross-team contacts at or above the 90th percentile of "
        "connected people with a team and strictly above their median. Needs team data."
    ),
    "peripheral": (
        "At the edge: has at least one tie, and total degree (in + out) at or below the 10th "
        "percentile of connected people and strictly below their median."
    ),
    "isolate": "No tie in either direction within the analysis window.",
    "rising": (
        "Between two snapshots, in both: in-degree up by at least 1, and either its percentile "
        "rank or its share of the snapshot's highest in-degree up by at least 0.20."
    ),
    "fading": (
        "Between two snapshots, in both: in-degree down by at least 1, and either its "
        "percentile rank or its share of the snapshot's highest in-degree down by at least 0.20."
    ),
}


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (``scipy.stats.rankdata``'s "average";
    done here because importing scipy.stats costs about a second).

    Examples
    --------
    >>> _average_ranks(np.array([10.0, 20.0, 10.0, 5.0])).tolist()
    [2.5, 4.0, 2.5, 1.0]
    """
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.ones(n, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n)
    average = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def _column(metrics: Mapping[str, Mapping[str, Any]], nodes: list[str], key: str,
            missing: float) -> np.ndarray:
    # None (constraint of isolates) and absent keys become ``missing`` so one rule can say
    # how it wants unknown values treated.
    out = np.full(len(nodes), missing, dtype=np.float64)
    for i, node in enumerate(nodes):
        value = metrics.get(node, {}).get(key)
        if value is not None:
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            if np.isfinite(v):
                out[i] = v
    return out


def _top(values: np.ndarray, pool: np.ndarray, q: float) -> np.ndarray:
    """People in ``pool`` at or above quantile ``q`` of the pool and strictly above its median."""
    if not pool.any():
        return np.zeros_like(pool)
    sample = values[pool]
    cut = np.quantile(sample, q)
    median = np.median(sample)
    return pool & (values >= cut) & (values > median)


def _bottom(values: np.ndarray, pool: np.ndarray, q: float) -> np.ndarray:
    """People in ``pool`` at or below quantile ``q`` of the pool and strictly below its median."""
    if not pool.any():
        return np.zeros_like(pool)
    sample = values[pool]
    cut = np.quantile(sample, q)
    median = np.median(sample)
    return pool & (values <= cut) & (values < median)


def _cross_team_contacts(arr: GraphArrays,
                         teams: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Per person: distinct cross-team contacts and distinct other teams reached.

    Ties count in either direction; people without a team (missing or "") never count as
    cross-team, because we cannot tell which side of a boundary they are on.
    """
    nodes = arr.nodes
    n = len(nodes)
    contacts = np.zeros(n, dtype=np.int64)
    other_teams = np.zeros(n, dtype=np.int64)
    if n == 0 or arr.src.size == 0:
        return contacts, other_teams
    names = sorted({str(t) for t in teams.values() if t})
    code_of = {name: c for c, name in enumerate(names)}
    code = np.array([code_of.get(str(teams.get(node) or ""), -1) for node in nodes],
                    dtype=np.int64)
    a = np.concatenate([arr.src, arr.dst])
    b = np.concatenate([arr.dst, arr.src])
    cross = (code[a] >= 0) & (code[b] >= 0) & (code[a] != code[b])
    a, b = a[cross], b[cross]
    if a.size == 0:
        return contacts, other_teams
    pair = unique_ints(a * n + b)  # distinct (person, contact)
    contacts += np.bincount(pair // n, minlength=n)
    t = len(names)
    team_pair = unique_ints(a * t + code[b])  # distinct (person, other team)
    other_teams += np.bincount(team_pair // t, minlength=n)
    return contacts, other_teams


def assign_roles(
    G: nx.DiGraph,
    metrics: Mapping[str, Mapping[str, Any]],
    teams: Mapping[str, str],
    *,
    top_quantile: float = TOP_QUANTILE,
    bottom_quantile: float = BOTTOM_QUANTILE,
    arrays: GraphArrays | None = None,
) -> dict[str, list[str]]:
    """Assign Cross & Prusak roles to every person; a person may hold several or none.

    The rules are in :data:`ROLE_RULES` (with the default quantiles):

    - **central_connector**: in-degree at or above the 90th percentile of connected people.
    - **broker**: betweenness at or above the 90th percentile (and > 0) with constraint at or
      below the median (a broker's contacts do not know each other).
    - **boundary_spanner**: contacts in at least 2 other teams and a number of cross-team
      contacts at or above the 90th percentile.
    - **peripheral**: connected, total degree at or below the 10th percentile.
    - **isolate**: no tie at all.

    "Connected people" are those with at least one tie; percentiles are taken over them
    (numpy's linear interpolation), and each percentile rule also requires being strictly
    beyond the median so that ties at a common value do not hand everyone a role.

    Parameters
    ----------
    G : nx.DiGraph
        The analysed graph; every node gets an entry.
    metrics : mapping
        Person id -> metrics dict with at least ``in_degree``, ``out_degree``,
        ``betweenness`` and ``constraint`` (``None`` for isolates). Missing values count as 0
        (constraint as +inf, i.e. "not low").
    teams : mapping
        Person id -> formal team ("" or absent = unknown).
    top_quantile, bottom_quantile : float, optional
        The percentile cut-offs (defaults 0.9 and 0.1).
    arrays : GraphArrays, optional
        The graph's array view, when the caller already has it.

    Returns
    -------
    dict
        Person id -> list of roles in :data:`ROLES` order.

    Examples
    --------
    >>> G = nx.DiGraph([(str(i), "0") for i in range(1, 10)])
    >>> G.add_node("lonely")
    >>> m = {n: {"in_degree": G.in_degree(n), "out_degree": G.out_degree(n),
    ...          "betweenness": 0.0, "constraint": None} for n in G}
    >>> roles = assign_roles(G, m, teams={})
    >>> roles["0"], roles["1"], roles["lonely"]
    (['central_connector'], [], ['isolate'])
    """
    arr = arrays if arrays is not None else graph_arrays(G, weight=None)
    nodes = arr.nodes
    if not nodes:
        return {}
    columns = {
        "in_degree": _column(metrics, nodes, "in_degree", 0.0),
        "out_degree": _column(metrics, nodes, "out_degree", 0.0),
        "betweenness": _column(metrics, nodes, "betweenness", 0.0),
        "constraint": _column(metrics, nodes, "constraint", np.inf),
    }
    return roles_from_columns(arr, columns, teams, top_quantile=top_quantile,
                              bottom_quantile=bottom_quantile)


def roles_from_columns(
    arr: GraphArrays,
    columns: Mapping[str, np.ndarray],
    teams: Mapping[str, str],
    *,
    top_quantile: float = TOP_QUANTILE,
    bottom_quantile: float = BOTTOM_QUANTILE,
) -> dict[str, list[str]]:
    """:func:`assign_roles` on metric columns aligned with ``arr.nodes`` (the pipeline's form).

    ``columns`` holds ``in_degree``, ``out_degree``, ``betweenness`` and ``constraint``;
    NaN betweenness counts as 0 and NaN constraint as +inf ("not low"), as in
    :func:`assign_roles`.
    """
    nodes = arr.nodes
    n = len(nodes)
    if n == 0:
        return {}
    in_deg = np.asarray(columns["in_degree"], dtype=np.float64)
    out_deg = np.asarray(columns["out_degree"], dtype=np.float64)
    betweenness = np.nan_to_num(np.asarray(columns["betweenness"], dtype=np.float64), nan=0.0)
    constraint = np.asarray(columns["constraint"], dtype=np.float64)
    constraint = np.where(np.isnan(constraint), np.inf, constraint)
    degree = in_deg + out_deg

    # Trust the graph over the metrics for "has a tie" (self-loops do not count as ties).
    has_tie = np.zeros(n, dtype=bool)
    has_tie[arr.src] = True
    has_tie[arr.dst] = True
    connected = has_tie

    flags: dict[str, np.ndarray] = {}
    flags["central_connector"] = _top(in_deg, connected, top_quantile)
    finite_c = connected & np.isfinite(constraint)
    c_median = np.median(constraint[finite_c]) if finite_c.any() else np.inf
    flags["broker"] = (
        _top(betweenness, connected, top_quantile) & (betweenness > 0) & (constraint <= c_median)
    )
    contacts, other_teams = _cross_team_contacts(arr, teams)
    team_known = np.array([bool(teams.get(node)) for node in nodes], dtype=bool)
    flags["boundary_spanner"] = (
        _top(contacts.astype(np.float64), connected & team_known, top_quantile)
        & (other_teams >= 2)
    )
    flags["peripheral"] = _bottom(degree, connected, bottom_quantile)
    flags["isolate"] = ~connected

    # Most people hold no role: build each person's list only where a flag is set.
    out: dict[str, list[str]] = {node: [] for node in nodes}
    for role in ROLES:
        if role in flags:
            for i in np.flatnonzero(flags[role]).tolist():
                out[nodes[i]].append(role)
    return out


def people_by_role(roles: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Invert :func:`assign_roles`: role -> sorted person ids, every role present.

    Examples
    --------
    >>> people_by_role({"b": ["isolate"], "a": ["isolate", "rising"]})["isolate"]
    ['a', 'b']
    """
    out: dict[str, list[str]] = {role: [] for role in ROLES}
    for person in sorted(roles, key=str):
        for role in roles[person]:
            out.setdefault(role, []).append(person)
    return out


def rising_fading(
    before: Mapping[str, Mapping[str, Any]],
    after: Mapping[str, Mapping[str, Any]],
    *,
    threshold: float = RISING_THRESHOLD,
) -> dict[str, list[str]]:
    """People whose prominence rose or fell between two snapshots.

    Only people present in both snapshots are considered: newcomers have no "before", and
    people who left or opted out must not appear in any output. For them, in-degree is made
    relative in each snapshot separately, two ways, so the rule does not depend on the two
    windows having the same number of people or ties:

    - percentile rank (average rank for ties, divided by the number of people) — sensitive
      in the middle of the distribution;
    - share of the snapshot's highest in-degree — sensitive at the top, where ranks saturate
      (going from 1 to 13 namers when most people have 0 barely moves a rank).

    A person is rising when in-degree grew by at least 1 and either measure gained at least
    ``threshold``; fading is the mirror image.

    Parameters
    ----------
    before, after : mapping
        Person id -> metrics dict with ``in_degree`` (missing counts as 0).
    threshold : float, optional
        Points to gain (lose) on either relative measure, default 0.2. The in-degree must
        also move by at least 1 in the same direction, so shuffles among equals do not count.

    Returns
    -------
    dict
        ``{"rising": [ids], "fading": [ids]}``, ids sorted.

    Examples
    --------
    >>> before = {p: {"in_degree": d} for p, d in zip("abcde", [5, 4, 3, 2, 1])}
    >>> after = {p: {"in_degree": d} for p, d in zip("abcde", [1, 4, 3, 2, 5])}
    >>> rising_fading(before, after)
    {'rising': ['e'], 'fading': ['a']}
    """
    common = sorted(set(before) & set(after), key=str)
    if len(common) < 2:
        return {"rising": [], "fading": []}
    d0 = _column(before, common, "in_degree", 0.0)
    d1 = _column(after, common, "in_degree", 0.0)
    n = len(common)
    r0 = _average_ranks(d0) / n
    r1 = _average_ranks(d1) / n
    s0 = d0 / d0.max() if d0.max() > 0 else np.zeros(n)
    s1 = d1 / d1.max() if d1.max() > 0 else np.zeros(n)
    delta_deg = d1 - d0
    # the small epsilon keeps an exact 0.2 move from being lost to float rounding
    eps = 1e-9
    up = np.maximum(r1 - r0, s1 - s0)
    down = np.minimum(r1 - r0, s1 - s0)
    rising = (up >= threshold - eps) & (delta_deg >= 1)
    fading = (down <= -threshold + eps) & (delta_deg <= -1)
    return {
        "rising": [common[i] for i in np.flatnonzero(rising)],
        "fading": [common[i] for i in np.flatnonzero(fading)],
    }
