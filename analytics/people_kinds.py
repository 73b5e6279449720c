"""The kinds of people a change programme needs, kept apart, each with its written rule.

Being named by many, bridging groups, having one's practices taken up, energising others,
recognising colleagues across teams, being new and being left out are different things, and
a programme uses each differently (design.md, "Analytics definitions"). One person may be
of several kinds; each kind lists its people ordered by the score that defines it, ties
broken by a stated rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import networkx as nx

from analytics.model import Analysis
from analytics.roles import ROLE_RULES

__all__ = [
    "KINDS",
    "NEWCOMER_DAYS",
    "TIE_BREAK",
    "KindMember",
    "PeopleKind",
    "cross_team_recognition",
    "people_kinds",
    "rank",
]

#: People who joined this many days before the analysis date or fewer are newcomers.
NEWCOMER_DAYS = 90
#: Fewest distinct people behind a kind that is counted from answers (influencer,
#: energiser, generous recogniser): one person's answer never makes anyone a "kind".
MIN_DISTINCT = 2
#: Beyond the minimum, a count-based kind takes the top 10% of the people with any count.
TOP_QUANTILE = 0.9

TIE_BREAK = "Equal scores are ordered by name, then by id."

# key -> (title, what the programme does with them, rule, what the score counts)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "hyper_connected": (
        "Hyper-connected",
        "Many people already go to them: ideal messengers, at risk of overload.",
        ROLE_RULES["central_connector"],
        "people who named them",
    ),
    "broker": (
        "Brokers between groups",
        "They carry information between groups that otherwise do not talk.",
        ROLE_RULES["broker"],
        "betweenness (share of shortest paths through them)",
    ),
    "influencer": (
        "Influencers",
        "Others take up their ideas and practices: the people a change spreads through.",
        "Named by at least 2 different people when asked whose idea or practice they took "
        "up (the 'adopted' question), and in the top 10% of the people named there.",
        "people who took up their practice",
    ),
    "energiser": (
        "Energisers",
        "People leave time with them with more energy: good hosts for change conversations.",
        "Named by at least 2 different people when asked who gave them energy (the "
        "'energy' question), and in the top 10% of the people named there.",
        "people they energised",
    ),
    "generous_recogniser": (
        "Generous recognisers",
        "They thank people outside their own team: they build bridges through kudos.",
        "Gave kudos to at least 2 different people in other teams, and in the top 10% of "
        "people who gave kudos across teams.",
        "people in other teams they recognised",
    ),
    "newcomer": (
        "Newcomers",
        "Their first weeks decide whether they join the network: introduce them.",
        f"Joined in the {NEWCOMER_DAYS} days before the analysis date, after the first day "
        "anyone in the roster joined (people there from the start are not newcomers).",
        "days since they joined (fewest first)",
    ),
    "isolated": (
        "Isolated",
        "Nobody named them and they named nobody: check in, they may be left out.",
        ROLE_RULES["isolate"],
        "—",
    ),
}


@dataclass(frozen=True, slots=True)
class KindMember:
    """One person of a kind and the score that put them there."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class PeopleKind:
    """One kind of people: its rule, what the score counts, and its people, best first."""

    key: str
    title: str
    use: str
    rule: str
    score_name: str
    members: tuple[KindMember, ...]


def rank(
    scores: Mapping[str, float],
    labels: Mapping[str, str] | None = None,
    *,
    descending: bool = True,
    then: Mapping[str, float] | None = None,
) -> list[str]:
    """Ids ordered by score (highest first unless ``descending`` is False), then by
    ``then`` (highest first), then by label, then by id (:data:`TIE_BREAK`).

    Examples
    --------
    >>> rank({"b": 2, "a": 2, "c": 5}, {"a": "Zoe", "b": "Ada", "c": "Kim"})
    ['c', 'b', 'a']
    >>> rank({"b": 2, "a": 2}, then={"a": 0.9, "b": 0.1})
    ['a', 'b']
    """
    labels = labels or {}
    then = then or {}
    sign = -1.0 if descending else 1.0

    def key(pid: str) -> tuple[float, float, str, str]:
        score = float(scores[pid])
        score = 0.0 if math.isnan(score) else score
        return (sign * score, -float(then.get(pid, 0.0) or 0.0), labels.get(pid, pid), pid)

    return sorted(scores, key=key)


def _qualifying(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts at or above max(MIN_DISTINCT, the 90th percentile of non-zero counts)."""
    positive = sorted(v for v in counts.values() if v > 0)
    if not positive:
        return {}
    # nearest-rank percentile: no interpolation, so the cut is always a count someone has
    cut = positive[min(len(positive) - 1, math.ceil(TOP_QUANTILE * len(positive)) - 1)]
    floor = max(MIN_DISTINCT, cut)
    return {pid: v for pid, v in counts.items() if v >= floor}


def _named_on(G: nx.DiGraph, *wanted: str) -> dict[str, dict[str, int]]:
    """For each kind wanted: distinct people who named each person with a tie of that kind;
    and under ``"cross_team_recognition"`` :func:`cross_team_recognition` (one pass over the
    ties for all of them)."""
    counts: dict[str, dict[str, int]] = {kind: {} for kind in wanted}
    across: dict[str, int] = {}
    team = dict(G.nodes(data="team", default=""))
    for source, target, kinds in G.edges(data="kinds", default=""):
        if source == target or not kinds:
            continue
        for kind in str(kinds).split(","):
            found = counts.get(kind)
            if found is not None:
                found[target] = found.get(target, 0) + 1
            if kind == "recognised":
                a, b = team.get(source) or "", team.get(target) or ""
                if a and b and a != b:
                    across[source] = across.get(source, 0) + 1
    counts["cross_team_recognition"] = across
    return counts


def cross_team_recognition(G: nx.DiGraph) -> dict[str, int]:
    """Distinct people in another (known) team each person gave a kudos (``recognised``) to.

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([("a", {"team": "x"}), ("b", {"team": "y"}), ("c", {"team": "x"})])
    >>> G.add_edges_from([("a", "b", {"kinds": "recognised"}), ("a", "c", {"kinds": "recognised"})])
    >>> cross_team_recognition(G)
    {'a': 1}
    """
    counts: dict[str, int] = {}
    team = dict(G.nodes(data="team", default=""))
    for source, target, kinds in G.edges(data="kinds", default=""):
        if "recognised" not in str(kinds or "").split(","):
            continue
        a, b = team.get(source) or "", team.get(target) or ""
        if a and b and a != b:
            counts[source] = counts.get(source, 0) + 1
    return counts


def _day(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text.strip()).date() if text and text.strip() else None
    except ValueError:
        return None


def _newcomers(analysis: Analysis, today: date) -> dict[str, int]:
    joined = {pid: _day(p.joined_at) for pid, p in analysis.people.items()}
    known = [d for d in joined.values() if d is not None]
    if not known:
        return {}
    start = min(known)
    since = today - timedelta(days=NEWCOMER_DAYS)
    return {
        pid: (today - d).days
        for pid, d in joined.items()
        if d is not None and d > start and since <= d <= today and pid in analysis.graph
    }


def _analysis_day(analysis: Analysis) -> date:
    result = analysis.result
    for text in (result.input.window_end, result.generated_at):
        found = _day(text or "")
        if found is not None:
            return found
    return date.today()


def people_kinds(
    analysis: Analysis,
    labels: Mapping[str, str] | None = None,
    *,
    today: date | None = None,
) -> list[PeopleKind]:
    """Every kind of :data:`KINDS`, in that order, with its people best first.

    Parameters
    ----------
    analysis : Analysis
        The graph (edge ``kinds`` for the question-based kinds, node ``team``), the result
        (roles, in-degree, betweenness, PageRank) and the roster (``joined_at``).
    labels : mapping, optional
        Id -> the name shown, used to break ties (:data:`TIE_BREAK`).
    today : date, optional
        The analysis date for newcomers; default the end of the analysis window.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> ties = [Tie(s, "d", kind="adopted") for s in "abc"] + [Tie("a", "b", kind="energy")]
    >>> kinds = {k.key: k for k in people_kinds(analyze(ties, [Person(p) for p in "abcde"]))}
    >>> [(m.id, m.score) for m in kinds["influencer"].members]
    [('d', 3.0)]
    >>> kinds["energiser"].members, [m.id for m in kinds["isolated"].members]
    ((), ['e'])
    """
    result, graph = analysis.result, analysis.graph
    labels = labels or {}
    people = {p.id: p for p in result.people}
    pagerank = {p.id: p.pagerank or 0.0 for p in result.people}
    roles = result.roles
    found: dict[str, list[KindMember]] = {}

    hyper = {pid: float(people[pid].in_degree) for pid in roles.get("central_connector", ())
             if pid in people}
    found["hyper_connected"] = [KindMember(pid, hyper[pid])
                                for pid in rank(hyper, labels, then=pagerank)]
    brokers = {pid: float(people[pid].betweenness or 0.0) for pid in roles.get("broker", ())
               if pid in people}
    low_constraint = {pid: -(people[pid].constraint or 0.0) for pid in brokers}
    found["broker"] = [KindMember(pid, brokers[pid])
                       for pid in rank(brokers, labels, then=low_constraint)]
    named = _named_on(graph, "adopted", "energy")
    for key, counts in (
        ("influencer", named["adopted"]),
        ("energiser", named["energy"]),
        ("generous_recogniser", named["cross_team_recognition"]),
    ):
        chosen = {pid: float(v) for pid, v in _qualifying(counts).items()}
        found[key] = [KindMember(pid, chosen[pid]) for pid in rank(chosen, labels)]
    newcomers = {pid: float(days) for pid, days in
                 _newcomers(analysis, today or _analysis_day(analysis)).items()}
    found["newcomer"] = [KindMember(pid, newcomers[pid])
                         for pid in rank(newcomers, labels, descending=False)]
    isolated = {pid: 0.0 for pid in roles.get("isolate", ())}
    found["isolated"] = [KindMember(pid, 0.0) for pid in rank(isolated, labels)]

    return [
        PeopleKind(key, title, use, rule, score_name, tuple(found.get(key, ())))
        for key, (title, use, rule, score_name) in KINDS.items()
    ]
