"""How far to trust the picture: who answered, per team, and how stable the top list is.

The network is only what people answered. When few answered, a different few would have
named other people, and the "most named" list could look quite different. The bootstrap
here measures exactly that: it redraws the people who answered (with replacement, as many
as answered), recomputes who is named most, and counts how much of the top list survives.
``tests/analytics/test_stability.py`` checks the estimate against a simulation where the
true network is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from analytics._arrays import GraphArrays, graph_arrays
from analytics.privacy import MIN_GROUP_SIZE, suppress

__all__ = [
    "RESAMPLES",
    "SOLID",
    "THIN",
    "Stability",
    "response_coverage",
    "top_list_stability",
]

#: Bootstrap resamples: 100 keep the estimate's own noise under about 3 points.
RESAMPLES = 100
#: Share of the top list that survives a resample at or above which the list is "solid".
SOLID = 0.8
#: Below this share (or with fewer than MIN_RESPONDENTS answers) the picture is "too thin".
THIN = 0.6
MIN_RESPONDENTS = 10

VERDICTS = {
    "solid": "Solid: the top list would mostly stay the same with other answers.",
    "indicative": "Indicative: the top names are likely right, their order and the last few "
                  "places are not.",
    "thin": "Too thin: with the answers so far, another set of respondents would give a "
            "different top list. Get more answers before acting on individual names.",
    "none": "Nobody has answered yet.",
}


@dataclass(frozen=True, slots=True)
class Stability:
    """The bootstrap estimate for the "most named" top list.

    ``overlap`` is the mean share of the observed top ``k`` still in the top ``k`` of a
    resample; ``kept`` gives, for each person of the observed top ``k`` (in rank order), the
    share of resamples that kept them there. ``participation`` is respondents / people.
    """

    k: int
    resamples: int
    respondents: int
    people: int
    participation: float | None
    overlap: float | None
    kept: tuple[tuple[str, float], ...]
    verdict: str

    @property
    def verdict_text(self) -> str:
        return VERDICTS[self.verdict]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    # highest score first, ties by position (nodes are sorted by id): deterministic. Only
    # the people at or above the k-th score are sorted, so this is O(n), not O(n log n).
    if k >= scores.size:
        candidates = np.arange(scores.size)
    else:
        kth = np.partition(scores, scores.size - k)[scores.size - k]
        candidates = np.flatnonzero(scores >= kth)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]


def top_size(named: int) -> int:
    """How long the top list is: a tenth of the people anyone named, between 3 and 10.

    Examples
    --------
    >>> top_size(150), top_size(40), top_size(2)
    (10, 4, 2)
    """
    return min(named, max(3, min(10, round(0.1 * named))))


def top_list_stability(
    G: nx.DiGraph,
    *,
    k: int | None = None,
    resamples: int = RESAMPLES,
    seed: int | None = 0,
    arrays: GraphArrays | None = None,
) -> Stability:
    """Bootstrap the respondents to estimate how stable the "most named" top ``k`` is.

    A respondent is anyone who named at least one person. Each resample draws as many
    respondents as there are, with replacement, and scores each person by how many drawn
    respondents named them (a respondent drawn twice counts twice); the top ``k`` is taken
    by that score, ties by id, exactly as for the observed list.

    Parameters
    ----------
    G : nx.DiGraph
        The analysed network; self-ties are ignored.
    k : int, optional
        Length of the top list; default :func:`top_size` of the people anyone named.
    resamples : int, default RESAMPLES
    seed : int or None, default 0
    arrays : GraphArrays, optional
        The analysis' array view of ``G`` (``Analysis.arrays``), to avoid building it again.

    Returns
    -------
    Stability
        ``verdict``: "solid" (overlap >= :data:`SOLID`), "indicative", "thin" (overlap below
        :data:`THIN` or fewer than 10 respondents) or "none" (nobody answered).

    Examples
    --------
    >>> G = nx.DiGraph([(f"p{i}", "star") for i in range(30)] + [("p0", "p1")])
    >>> s = top_list_stability(G, k=1)
    >>> s.kept, s.verdict, s.respondents
    ((('star', 1.0),), 'solid', 30)
    """
    arr = arrays if arrays is not None else graph_arrays(G, weight=None)
    n = arr.n
    respondents = np.unique(arr.src)
    r = int(respondents.size)
    participation = r / n if n else None
    observed = np.bincount(arr.dst, minlength=n).astype(np.float64)
    named = int(np.count_nonzero(observed))
    k = top_size(named) if k is None else max(0, min(int(k), named))
    if r == 0 or k == 0:
        return Stability(k, 0, r, n, participation, None, (), "none")
    top = _top(observed, k)
    rng = np.random.default_rng(seed)
    hits = np.zeros(n, dtype=np.int64)
    overlaps = np.empty(resamples)
    slot = np.full(n, -1, dtype=np.int64)
    slot[respondents] = np.arange(r)
    edge_slot = slot[arr.src]
    # Rao & Wu's rescaled bootstrap: r - 1 draws with replacement, weights shrunk towards 1
    # by lam = sqrt(1 - r / n), so the more of the people answered, the less another set of
    # answers could differ (everyone answered: every resample is the observed network).
    draws = max(r - 1, 1)
    lam = float(np.sqrt(max(0.0, 1.0 - r / n)))
    for b in range(resamples):
        drawn = np.bincount(rng.integers(0, r, size=draws), minlength=r).astype(np.float64)
        weights = 1.0 - lam + lam * (r / draws) * drawn
        scores = np.bincount(arr.dst, weights=weights[edge_slot], minlength=n)
        in_top = np.zeros(n, dtype=bool)
        in_top[_top(scores, k)] = True
        hits += in_top
        overlaps[b] = in_top[top].mean()
    overlap = float(overlaps.mean())
    kept = tuple((arr.nodes[i], float(hits[i] / resamples)) for i in top)
    if r < MIN_RESPONDENTS or overlap < THIN:
        verdict = "thin"
    elif overlap >= SOLID:
        verdict = "solid"
    else:
        verdict = "indicative"
    return Stability(k, resamples, r, n, participation, overlap, kept, verdict)


def response_coverage(
    G: nx.DiGraph,
    teams: Mapping[str, str],
    min_group_size: int = MIN_GROUP_SIZE,
) -> dict[str, float | None]:
    """Share of each team's members who named anyone (answered), small teams suppressed.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b"), ("c", "b")])
    >>> G.add_nodes_from(["d", "e"])
    >>> response_coverage(G, {p: "t" for p in "abcde"})
    {'t': 0.4}
    >>> response_coverage(G, {p: "t" for p in "abcde"}, min_group_size=6)
    {'t': None}
    """
    answered = {s for s, t in G.edges() if s != t}
    size: dict[str, int] = {}
    hit: dict[str, int] = {}
    for node in G:
        team = teams.get(node)
        if not team:
            continue
        size[team] = size.get(team, 0) + 1
        hit[team] = hit.get(team, 0) + int(node in answered)
    return {
        team: suppress(hit[team] / size[team], size[team], min_group_size)
        for team in sorted(size)
    }
