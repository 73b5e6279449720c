"""What a programme owner should do next: three to five actions, derived from the data.

Each candidate action has a written trigger and an urgency score; the report shows the most
urgent first (:func:`prioritised_actions`), each with the figures behind it. The candidates:

- ``more_answers``: the trust estimate says the picture is too thin to act on names;
- ``silo``: formal teams whose ties mostly stay inside;
- ``left_out``: isolated people (no tie at all);
- ``broker_risk``: people the network depends on, whose absence would cut others off;
- ``add_champions``: whom to add to the current champions, and the reach that adds.

Ties in, plain data out: sentences are written by the report.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from analytics._arrays import (
    GraphArrays,
    TwoStepSets,
    graph_arrays,
    reach,
)
from analytics.results import AnalysisResult
from analytics.stability import Stability

__all__ = [
    "ACTION_RULES",
    "ADD_CHAMPIONS",
    "MAX_ACTIONS",
    "SILO_SHARE",
    "Action",
    "Addition",
    "broker_dependence",
    "champion_additions",
    "prioritised_actions",
]

MAX_ACTIONS = 5
#: A team is siloed when at most this share of its ties cross to another team.
SILO_SHARE = 0.2
#: How many people the "add champions" action proposes.
ADD_CHAMPIONS = 3
#: Brokers checked for dependence (the top ones by betweenness).
BROKERS_CHECKED = 5
#: A broker matters when at least this many people would be cut off without them.
MIN_CUT_OFF = 2
#: Above this many people the cut-off check (one connected-components pass per broker) is
#: skipped: the brokers are still listed, by betweenness.
DEPENDENCE_MAX_PEOPLE = 20_000

ACTION_RULES: dict[str, str] = {
    "more_answers": "Shown when the trust estimate of the top list is \"too thin\" (see How "
                    "far to trust this). Always ranked first: names are unreliable until then.",
    "silo": f"Shown for formal teams (of at least the minimum group size) where at most "
            f"{SILO_SHARE:.0%} of ties cross to another team; urgency grows as that share "
            "falls and with team size.",
    "left_out": "Shown when anyone has no tie at all; urgency grows with their share of "
                "the people.",
    "broker_risk": f"Shown when anyone holds the broker role (see Kinds of people); lists the "
                   f"top {BROKERS_CHECKED} by betweenness. More urgent when removing one would "
                   f"cut at least {MIN_CUT_OFF} people off from the largest connected group.",
    "add_champions": f"Shown when adding up to {ADD_CHAMPIONS} people (greedy, most new people "
                     "reached within two steps first) raises the champions' two-step reach; "
                     "urgency grows with the gain.",
}


@dataclass(frozen=True, slots=True)
class Addition:
    """One person to add as a champion and the two-step reach once they are added."""

    id: str
    reach_after: float


@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do: its kind, urgency (higher first), the people and teams it names,
    the figures behind it, and the report section that shows the evidence."""

    key: str
    urgency: float
    evidence: str
    people: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)


def champion_additions(
    G: nx.DiGraph, current: Iterable[str], k: int = ADD_CHAMPIONS,
    arrays: GraphArrays | None = None,
) -> tuple[float, list[Addition]]:
    """Whom to add to the current champions: greedy maximum two-step reach.

    Starting from what the current champions already reach within two steps (ties either
    way), each pick is the person who adds the most people not yet reached (ties broken by
    id); picks that add nobody are not made. Lazy greedy (CELF): gains only shrink as reach
    grows, so a stale gain is a valid upper bound.

    Returns
    -------
    (reach_before, additions)
        Two-step reach of the current champions (share of people) and the picks, each with
        the reach once it is added.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "hub"), ("b", "hub"), ("x", "y"), ("z", "y"), ("w", "z")])
    >>> before, adds = champion_additions(G, ["hub"], k=2)
    >>> round(before, 2), [(a.id, round(a.reach_after, 2)) for a in adds]
    (0.43, [('y', 1.0)])
    """
    arr = arrays if arrays is not None else graph_arrays(G, weight=None)
    n = arr.n
    if n == 0:
        return 0.0, []
    A = arr.undirected()
    seeds = np.asarray(sorted(arr.index[c] for c in set(current) if c in arr.index),
                       dtype=np.int64)
    covered = reach(A, seeds, 2)
    before = float(covered.sum()) / n

    two_step = TwoStepSets(A)  # each candidate's neighbourhood built once

    degree = np.diff(A.indptr).astype(np.int64)
    bound = 1 + degree + A @ degree
    seeded = set(seeds.tolist())
    heap = [(b, i) for i, b in enumerate((-bound).tolist()) if i not in seeded]
    heapq.heapify(heap)
    picks: list[Addition] = []
    while heap and len(picks) < k:
        fresh: dict[int, int] = {}
        while heap:
            neg, i = heap[0]
            if i in fresh:
                break
            heapq.heappop(heap)
            reached = two_step(i)
            fresh[i] = int(np.count_nonzero(~covered[reached]))
            heapq.heappush(heap, (-fresh[i], i))
        neg, i = heapq.heappop(heap)
        if -neg <= 0:
            break
        covered[two_step(i)] = True
        picks.append(Addition(arr.nodes[i], float(covered.sum()) / n))
    return before, picks


def broker_dependence(G: nx.DiGraph, people: Sequence[str],
                      arrays: GraphArrays | None = None) -> dict[str, int]:
    """For each person, how many others would be cut off from the largest connected group
    (ties either way) if that person were gone.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e")])
    >>> broker_dependence(G, ["c", "d", "a"])
    {'c': 2, 'd': 1, 'a': 0}
    """
    arr = arrays if arrays is not None else graph_arrays(G, weight=None)
    if arr.n == 0:
        return {pid: 0 for pid in people}
    A = sp.csr_matrix(arr.undirected())

    def largest(mask: np.ndarray) -> int:
        keep = np.flatnonzero(mask)
        sub = A[keep][:, keep]
        _, labels = connected_components(sub, directed=False)
        return int(np.bincount(labels).max()) if labels.size else 0

    everyone = np.ones(arr.n, dtype=bool)
    whole = largest(everyone)
    out: dict[str, int] = {}
    for pid in people:
        if pid not in arr.index:
            out[pid] = 0
            continue
        mask = everyone.copy()
        mask[arr.index[pid]] = False
        out[pid] = max(0, whole - 1 - largest(mask))
    return out


def prioritised_actions(
    G: nx.DiGraph,
    result: AnalysisResult,
    stability: Stability,
    *,
    limit: int = MAX_ACTIONS,
    arrays: GraphArrays | None = None,
) -> list[Action]:
    """The most urgent actions first (at most ``limit``), by the rules of
    :data:`ACTION_RULES`; equal urgency keeps the order of that table.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> from analytics.stability import top_list_stability
    >>> people = [Person(f"{t}{i}", team=t) for t in "xy" for i in range(5)]
    >>> a = analyze([Tie(f"x{i}", f"x{(i + 1) % 4}") for i in range(4)], people)
    >>> [x.key for x in prioritised_actions(a.graph, a.result, top_list_stability(a.graph))]
    ['more_answers', 'add_champions', 'silo', 'left_out']
    """
    people = result.network.people or 1
    found: list[Action] = []
    if stability.verdict in ("thin", "none"):
        found.append(Action("more_answers", 100.0, "trust", figures={
            "participation": stability.participation, "overlap": stability.overlap,
            "respondents": stability.respondents}))

    silos = sorted(
        (t for t in result.teams
         if not t.suppressed and t.cross_team_share is not None
         and t.cross_team_share <= SILO_SHARE),
        key=lambda t: (t.cross_team_share, -t.size, t.team),
    )
    if silos:
        worst = silos[0]
        urgency = 50.0 + 40.0 * (1.0 - float(worst.cross_team_share or 0.0) / SILO_SHARE) \
            * min(1.0, worst.size / max(1, people) * 5)
        found.append(Action("silo", urgency, "teams", teams=tuple(t.team for t in silos),
                            figures={"shares": {t.team: t.cross_team_share for t in silos}}))

    isolated = tuple(result.roles.get("isolate", ()))
    if isolated:
        found.append(Action("left_out", 40.0 + 60.0 * len(isolated) / people, "kind-isolated",
                            people=isolated, figures={"count": len(isolated)}))

    broker_ids = set(result.roles.get("broker", ()))
    by_betweenness = sorted(
        (p for p in result.people if p.id in broker_ids),
        key=lambda p: (-(p.betweenness or 0.0), p.id),
    )[:BROKERS_CHECKED]
    cut = (broker_dependence(G, [p.id for p in by_betweenness], arrays)
           if result.network.people <= DEPENDENCE_MAX_PEOPLE else {})
    if by_betweenness:
        ids = [p.id for p in by_betweenness]
        worst_cut = max(cut.values(), default=0)
        urgency = (45.0 + 60.0 * worst_cut / people) if worst_cut >= MIN_CUT_OFF else 35.0
        found.append(Action("broker_risk", urgency, "kind-broker", people=tuple(ids),
                            figures={"cut_off": cut, "worst": worst_cut,
                                     "betweenness": {p.id: p.betweenness for p in by_betweenness}}))

    current = [p.id for p in result.people if p.champion]
    before, additions = champion_additions(G, current, arrays=arrays)
    if additions and additions[-1].reach_after > before:
        gain = additions[-1].reach_after - before
        found.append(Action("add_champions", 40.0 + 100.0 * gain, "champions",
                            people=tuple(a.id for a in additions),
                            figures={"before": before, "after": additions[-1].reach_after,
                                     "steps": [a.reach_after for a in additions],
                                     "current": len(current)}))
    order = list(ACTION_RULES)
    found.sort(key=lambda a: (-a.urgency, order.index(a.key)))
    return found[:limit]
