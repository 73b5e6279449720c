"""What changed between two snapshots (two analysis windows) of the same organisation.

Privacy first: only people present in the ``after`` snapshot can appear by id. Someone who
opted out, left or was deactivated since ``before`` is absent from ``after.graph`` (build_graph
removes them), so their ties are not listed as lost and they are never "fading". Team pairs
involving a team smaller than the minimum group size are left out (via
:func:`analytics.privacy.suppress`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from analytics.champions import coverage
from analytics.model import Analysis
from analytics.privacy import MIN_GROUP_SIZE, suppress
from analytics.roles import rising_fading

__all__ = ["diff_snapshots"]


def _in_degrees(G: nx.DiGraph) -> dict[str, dict[str, int]]:
    # distinct people naming you, self-ties ignored (design.md's in-degree)
    return {n: {"in_degree": sum(1 for p in G.predecessors(n) if p != n)} for n in G}


def _team_of(G: nx.DiGraph) -> dict[str, str]:
    return {n: str(G.nodes[n].get("team") or "") for n in G}


def _team_pairs(G: nx.DiGraph, team_of: dict[str, str]) -> set[tuple[str, str]]:
    """Unordered pairs of different (known) teams with at least one tie, either direction."""
    pairs: set[tuple[str, str]] = set()
    for u, v in G.edges():
        a, b = team_of.get(u, ""), team_of.get(v, "")
        if a and b and a != b:
            pairs.add((a, b) if a < b else (b, a))
    return pairs


def _champion_coverage(G: nx.DiGraph, min_group_size: int) -> dict[str, float | None]:
    champions = [n for n in G if G.nodes[n].get("champion")]
    n = G.number_of_nodes()
    # the whole network is a group too: a 4-person network shows no figure
    return {
        "one_step": suppress(coverage(G, champions, steps=1), n, min_group_size),
        "two_step": suppress(coverage(G, champions, steps=2), n, min_group_size),
    }


def diff_snapshots(
    before: Analysis | nx.DiGraph,
    after: Analysis | nx.DiGraph,
    *,
    min_group_size: int = MIN_GROUP_SIZE,
) -> dict[str, Any]:
    """Compare two snapshots: ties, rising and fading people, champion reach, team links.

    Parameters
    ----------
    before, after : Analysis or networkx.DiGraph
        Two analyses of the same organisation (usually two windows); only their graphs are
        read (node attributes ``team`` and ``champion``), so a graph as
        :func:`analytics.graph.build_graph` makes it will do for either side.
    min_group_size : int, optional
        Team pairs whose smaller team (its smallest size over the snapshots it appears in)
        has fewer people than this are not reported (default 5).

    Returns
    -------
    dict
        - ``new_ties`` / ``lost_ties``: sorted ``[source, target]`` pairs present only in
          ``after`` / only in ``before`` (lost ties only between people still present).
        - ``rising`` / ``fading``: :func:`analytics.roles.rising_fading` on in-degree,
          the biggest gain (loss) of people naming them first, ties by id.
        - ``coverage_change``: ``{"one_step", "two_step"}``, after minus before, of the share
          of people within 1 / 2 ties of a champion (None when either side is suppressed).
        - ``coverage``: ``{"before": {...}, "after": {...}}`` the two figures themselves.
        - ``teams_connected`` / ``teams_cut_off``: sorted ``[team_a, team_b]`` pairs (team_a <
          team_b) with a tie in either direction only in ``after`` / only in ``before``.
        - ``people``: ``{"before": n, "after": n}``; ``ties``: likewise.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> def snap(edges, team_size=5):
    ...     people = [Person(f"{t}{i}", team=t) for t in "xy" for i in range(team_size)]
    ...     return analyze([Tie(u, v) for u, v in edges], people)
    >>> d = diff_snapshots(snap([("x0", "x1")]), snap([("x0", "y0")]))
    >>> d["new_ties"], d["lost_ties"], d["teams_connected"], d["teams_cut_off"]
    ([['x0', 'y0']], [['x0', 'x1']], [['x', 'y']], [])
    >>> diff_snapshots(snap([], 4), snap([("x0", "y0")], 4))["teams_connected"]
    []
    """
    Gb = before if isinstance(before, nx.DiGraph) else before.graph
    Ga = after if isinstance(after, nx.DiGraph) else after.graph
    present = set(Ga)

    new_ties = sorted([u, v] for u, v in Ga.edges() if u != v and not Gb.has_edge(u, v))
    lost_ties = sorted(
        [u, v]
        for u, v in Gb.edges()
        if u != v and u in present and v in present and not Ga.has_edge(u, v)
    )

    degrees_b, degrees_a = _in_degrees(Gb), _in_degrees(Ga)
    movers = rising_fading(degrees_b, degrees_a)

    def change(pid: str) -> int:
        return degrees_a[pid]["in_degree"] - degrees_b[pid]["in_degree"]

    # the biggest movers first, ties by id (rising_fading lists them by id)
    movers = {"rising": sorted(movers["rising"], key=lambda p: (-change(p), p)),
              "fading": sorted(movers["fading"], key=lambda p: (change(p), p))}

    cov_before = _champion_coverage(Gb, min_group_size)
    cov_after = _champion_coverage(Ga, min_group_size)
    coverage_change: dict[str, float | None] = {}
    for key in ("one_step", "two_step"):
        b, a = cov_before[key], cov_after[key]
        coverage_change[key] = None if a is None or b is None else a - b

    team_b, team_a = _team_of(Gb), _team_of(Ga)
    sizes_b = Counter(t for t in team_b.values() if t)
    sizes_a = Counter(t for t in team_a.values() if t)

    def smallest_size(team: str) -> int:
        seen = [s[team] for s in (sizes_b, sizes_a) if s.get(team)]
        return min(seen) if seen else 0

    def shown(pairs: set[tuple[str, str]]) -> list[list[str]]:
        out = []
        for a, b in sorted(pairs):
            pair = suppress([a, b], min(smallest_size(a), smallest_size(b)), min_group_size)
            if pair is not None:
                out.append(pair)
        return out

    pairs_b, pairs_a = _team_pairs(Gb, team_b), _team_pairs(Ga, team_a)
    return {
        "new_ties": new_ties,
        "lost_ties": lost_ties,
        "rising": movers["rising"],
        "fading": movers["fading"],
        "coverage_change": coverage_change,
        "coverage": {"before": cov_before, "after": cov_after},
        "teams_connected": shown(pairs_a - pairs_b),
        "teams_cut_off": shown(pairs_b - pairs_a),
        "people": {"before": Gb.number_of_nodes(), "after": Ga.number_of_nodes()},
        "ties": {
            "before": sum(1 for u, v in Gb.edges() if u != v),
            "after": sum(1 for u, v in Ga.edges() if u != v),
        },
    }
