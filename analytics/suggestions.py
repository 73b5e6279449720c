"""Suggestions for champions, aimed by network position, and the measure of whether they work.

Ties in (the analysed graph), plain data out. Four kinds of suggestion, each with its rule:

- ``say_hello``: a newcomer with no ties yet, for the champion with most contacts in the
  newcomer's team;
- ``introduce_yourself``: a team or community (of at least the minimum group size) that no
  champion reaches within two steps, and its best-connected member, for the champion nearest
  to it;
- ``thank``: someone in a champion's 2-step network whom many people name for help or advice
  and whom nobody has recognised, for the nearest champion;
- ``introduce_them``: two people the champion named who are not tied to each other and who
  each reach a community the other does not.

A champion is told whom to act on and why in plain words, never who named whom: no rule
here states a tie between two other people. The holdout (:func:`withheld`) decides at
random which suggestions are withheld, and :func:`follow_through` compares how often a tie
followed a shown and a withheld suggestion, with 95% confidence intervals.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import networkx as nx

from analytics.champions import coverage_by_team
from analytics.privacy import MIN_GROUP_SIZE

__all__ = [
    "HELP_KINDS",
    "KINDS",
    "MIN_PER_ARM",
    "Candidate",
    "Effect",
    "Rate",
    "UnreachedGroup",
    "follow_through",
    "followed",
    "helpers",
    "kind_weights",
    "suggest",
    "unreached_groups",
    "wilson",
    "withheld",
]

#: The kinds of suggestion, most time-sensitive first (a newcomer's first weeks matter most).
KINDS = ("say_hello", "introduce_yourself", "thank", "introduce_them")
#: Base priority of each kind before its score and the champion's feedback weigh in.
PRIORITY = {"say_hello": 1.0, "introduce_yourself": 0.9, "thank": 0.8, "introduce_them": 0.7}
#: Tie kinds that say "this person helps": named when asked who helped or who gave advice.
HELP_KINDS = frozenset({"helped", "advice"})
RECOGNISED = "recognised"
#: Fewest distinct people who must name someone for help before they count as a helper.
MIN_HELPERS = 3
#: A kind whose feedback weight is below this only fills a slot no other kind wants.
LOW_WEIGHT = 0.5
#: Below this many finished suggestions in either arm, the effect is "too little data".
MIN_PER_ARM = 20
#: Most people the champion named that are paired for ``introduce_them`` (by degree).
MAX_PAIRING = 40


@dataclass(frozen=True, slots=True)
class Candidate:
    """One suggestion for one champion.

    ``subject`` is the person to act on; ``other`` the second person of ``introduce_them``;
    ``group`` the team (``group_kind="team"``) or the main team of the community
    (``group_kind="community"``) of ``introduce_yourself``. ``score`` is in (0, 1].
    """

    champion: str
    kind: str
    subject: str
    other: str | None = None
    group: str | None = None
    group_kind: str | None = None
    score: float = 1.0

    @property
    def people(self) -> tuple[str, ...]:
        return (self.subject,) if self.other is None else (self.subject, self.other)


@dataclass(frozen=True, slots=True)
class UnreachedGroup:
    """A team or community no champion reaches within two steps (``size`` >= the minimum)."""

    kind: str  # "team" | "community"
    label: str  # the team's name, or the community's main team
    size: int
    members: tuple[str, ...]


def _undirected(G: nx.DiGraph) -> nx.Graph:
    U: nx.Graph = nx.Graph()
    U.add_nodes_from(G)
    U.add_edges_from((a, b) for a, b in G.edges() if a != b)
    return U


def _rings(U: nx.Graph, source: str, depth: int = 2) -> dict[str, int]:
    """Distance of everyone within ``depth`` steps of ``source`` (source excluded)."""
    seen = {source: 0}
    frontier = deque([source])
    while frontier:
        node = frontier.popleft()
        if seen[node] >= depth:
            continue
        for nb in U[node]:
            if nb not in seen:
                seen[nb] = seen[node] + 1
                frontier.append(nb)
    del seen[source]
    return seen


def _nearest(U: nx.Graph, sources: Iterable[str], targets: Collection[str]) -> dict[str, int]:
    """Distance from the set ``sources`` to each target reachable from it (BFS)."""
    start = [s for s in sources if s in U]
    seen = dict.fromkeys(start, 0)
    frontier = deque(start)
    found: dict[str, int] = {}
    while frontier and len(found) < len(targets):
        node = frontier.popleft()
        if node in targets:
            found.setdefault(node, seen[node])
        for nb in U[node]:
            if nb not in seen:
                seen[nb] = seen[node] + 1
                frontier.append(nb)
    return found


def helpers(G: nx.DiGraph) -> tuple[dict[str, int], set[str]]:
    """(distinct people who named each person for help or advice, people recognised).

    Reads the ``kinds`` label of each edge (:func:`analytics.graph.build_graph`).

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_edge("a", "h", kinds="helped"); G.add_edge("b", "h", kinds="advice,energy")
    >>> G.add_edge("c", "r", kinds="recognised")
    >>> helpers(G)
    ({'h': 2}, {'r'})
    """
    counts: Counter[str] = Counter()
    recognised: set[str] = set()
    for source, target, label in G.edges(data="kinds", default=""):
        if source == target:
            continue
        kinds = set(str(label or "").split(","))
        if kinds & HELP_KINDS:
            counts[target] += 1
        if RECOGNISED in kinds:
            recognised.add(target)
    return dict(counts), recognised


def unreached_groups(
    G: nx.DiGraph,
    champions: Iterable[str],
    teams: Mapping[str, str],
    communities: Mapping[str, int],
    min_group_size: int = MIN_GROUP_SIZE,
) -> list[UnreachedGroup]:
    """Teams, then communities, with nobody within two steps of any champion.

    Groups smaller than ``min_group_size`` are never named (the small-group rule); a
    community whose members all sit in an unreached team already listed is not repeated.

    Examples
    --------
    >>> G = nx.DiGraph([("c", "a1"), ("b1", "b2"), ("b2", "b3")])
    >>> teams = {"c": "A", "a1": "A", "b1": "B", "b2": "B", "b3": "B"}
    >>> [(g.kind, g.label, g.size) for g in unreached_groups(G, ["c"], teams, {}, 3)]
    [('team', 'B', 3)]
    >>> unreached_groups(G, ["c"], teams, {}, 4)
    []
    """
    champs = [c for c in champions if c in G]
    found: list[UnreachedGroup] = []
    covered: set[str] = set()
    for kind, mapping in (("team", dict(teams)),
                          ("community", {n: f"{c}" for n, c in communities.items() if c >= 0})):
        in_graph = {n: g for n, g in mapping.items() if n in G and g}
        shares = coverage_by_team(G, champs, in_graph, steps=2, min_group_size=min_group_size)
        members: dict[str, list[str]] = {}
        for node, group in in_graph.items():
            members.setdefault(group, []).append(node)
        for group, share in shares.items():
            if share is None or share > 0:
                continue
            people = tuple(sorted(members[group]))
            if kind == "community" and set(people) <= covered:
                continue
            label = group
            if kind == "community":
                main = Counter(teams.get(p, "") for p in people if teams.get(p))
                label = min(main, key=lambda t: (-main[t], t)) if main else ""
            covered.update(people)
            found.append(UnreachedGroup(kind, label, len(people), people))
    return found


def kind_weights(feedback: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """How welcome each kind of suggestion is to one champion, from their answers.

    ``feedback`` maps a kind to (times marked done, times marked not useful). The weight is
    ``(done + 1) / (done + not_useful + 1)``: 1 with no answers, falling as a champion keeps
    dismissing a kind and recovering as they act on it.

    Examples
    --------
    >>> weights = kind_weights({"thank": (0, 2), "say_hello": (3, 1)})
    >>> {kind: round(w, 2) for kind, w in weights.items()}
    {'say_hello': 0.8, 'introduce_yourself': 1.0, 'thank': 0.33, 'introduce_them': 1.0}
    """
    out = {}
    for kind in KINDS:
        done, dismissed = feedback.get(kind, (0, 0))
        out[kind] = (done + 1) / (done + dismissed + 1)
    return out


def _blocked(blocked: Mapping[str, Collection[tuple[str, str]]], champion: str,
             candidate: Candidate) -> bool:
    mine = blocked.get(champion, ())
    return any((candidate.kind, p) in mine or ("*", p) in mine for p in candidate.people)


def suggest(
    G: nx.DiGraph,
    champions: Iterable[str],
    *,
    teams: Mapping[str, str],
    communities: Mapping[str, int],
    newcomers: Iterable[str] = (),
    blocked: Mapping[str, Collection[tuple[str, str]]] | None = None,
    weights: Mapping[str, Mapping[str, float]] | None = None,
    per_champion: int = 3,
    min_group_size: int = MIN_GROUP_SIZE,
) -> dict[str, list[Candidate]]:
    """Up to ``per_champion`` suggestions for each champion, best first.

    Parameters
    ----------
    G : nx.DiGraph
        The analysed network (opted-out people are not in it); edges carry ``kinds``.
    champions : iterable of str
    teams, communities : mapping
        Person -> formal team; person -> community index (-1: none).
    newcomers : iterable of str
        People who joined recently; those with no tie yet get a ``say_hello``.
    blocked : mapping, optional
        Champion -> (kind, person) pairs not to suggest now (kind ``"*"``: any kind), e.g.
        marked not useful, snoozed, or suggested within the follow-up window.
    weights : mapping, optional
        Champion -> kind -> weight (:func:`kind_weights`); a kind dismissed often ranks
        lower, and below :data:`LOW_WEIGHT` only takes a slot no other kind wants.
    per_champion : int, optional
    min_group_size : int, optional
        Smallest team or community that may be named.

    Returns
    -------
    dict
        Champion -> list of :class:`Candidate` (each person at most once per champion, each
        ``(kind, person)`` for one champion only).

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_edges_from([(x, "h", {"kinds": "helped"}) for x in ("a", "b", "c")])
    >>> G.add_edge("champ", "a", kinds="helped"); G.add_node("new")
    >>> out = suggest(G, ["champ"], teams={}, communities={}, newcomers=["new"])
    >>> [(c.kind, c.subject) for c in out["champ"]]
    [('say_hello', 'new'), ('thank', 'h')]
    """
    blocked = blocked or {}
    weights = weights or {}
    champs = sorted({c for c in champions if c in G}, key=str)
    if not champs:
        return {}
    U = _undirected(G)
    champion_set = set(champs)
    rings = {c: _rings(U, c) for c in champs}
    pool: dict[str, list[Candidate]] = {c: [] for c in champs}
    load: Counter[str] = Counter()

    def assign(options: Sequence[tuple[float, str]], template: Candidate) -> None:
        # options: (distance or preference, champion); the first one not blocked wins
        for _, champion in sorted(options, key=lambda o: (o[0], load[o[1]], o[1])):
            candidate = replace(template, champion=champion)
            if not _blocked(blocked, champion, candidate):
                pool[champion].append(candidate)
                load[champion] += 1
                return

    # say hello: newcomers with no tie yet, for the champion with most contacts in their team
    for person in sorted(set(newcomers), key=str):
        if person not in U or U.degree(person) or person in champion_set:
            continue
        team = teams.get(person, "")

        def contacts(c: str, team: str = team) -> float:
            return -float(sum(1 for nb in U[c] if team and teams.get(nb) == team)
                          + (2 if team and teams.get(c) == team else 0))
        assign([(contacts(c), c) for c in champs],
               Candidate("", "say_hello", person, group=team or None,
                         group_kind="team" if team else None))

    # introduce yourself: groups nobody reaches, through their best-connected member
    groups = unreached_groups(G, champs, teams, communities, min_group_size)
    largest = max((g.size for g in groups), default=1)
    for group in groups:
        members = [m for m in group.members if U.degree(m) > 0 and m not in champion_set]
        if not members:
            continue
        subject = min(members, key=lambda m: (-U.degree(m), str(m)))
        near = _nearest(U, group.members, champion_set)
        options = [(float(near.get(c, math.inf)), c) for c in champs]
        score = 0.5 + 0.5 * group.size / largest
        assign(options, Candidate("", "introduce_yourself", subject, group=group.label or None,
                                  group_kind=group.kind, score=score))

    # thank: helpers in a champion's 2-step network whom nobody has recognised
    counts, recognised = helpers(G)
    positive = sorted(v for v in counts.values() if v > 0)
    if positive:
        threshold = max(MIN_HELPERS, positive[int(0.75 * (len(positive) - 1))])
        top = positive[-1]
        for person in sorted(counts, key=lambda p: (-counts[p], str(p))):
            if counts[person] < threshold or person in recognised or person in champion_set:
                continue
            options = [(float(rings[c][person]), c) for c in champs if person in rings[c]]
            assign(options, Candidate("", "thank", person, score=counts[person] / top))

    # introduce them: two people the champion named, each reaching a community the other lacks
    sizes = Counter(k for k in communities.values() if k >= 0)

    def reach_of(person: str) -> set[int]:
        found = {communities.get(n, -1) for n in U[person]} | {communities.get(person, -1)}
        return {k for k in found if k >= 0 and sizes[k] >= min_group_size}

    for c in champs:
        named = sorted((p for p in G.successors(c) if p != c and p not in champion_set),
                       key=lambda p: (-U.degree(p), str(p)))[:MAX_PAIRING]
        reach = {p: reach_of(p) for p in named}
        best: tuple[float, str, str] | None = None
        for i, a in enumerate(named):
            for b in named[i + 1:]:
                if U.has_edge(a, b):
                    continue
                gain = min(len(reach[a] - reach[b]), len(reach[b] - reach[a]))
                if gain <= 0:
                    continue
                first, second = sorted((a, b), key=str)
                candidate = Candidate(c, "introduce_them", first, other=second)
                if _blocked(blocked, c, candidate):
                    continue
                if best is None or (gain, first, second) > (best[0], best[1], best[2]):
                    best = (float(gain), first, second)
        if best is not None:
            pool[c].append(Candidate(c, "introduce_them", best[1], other=best[2],
                                     score=min(1.0, best[0] / 3)))

    return {c: _pick(pool[c], weights.get(c, {}), per_champion) for c in champs}


def _pick(candidates: list[Candidate], weights: Mapping[str, float], k: int
          ) -> list[Candidate]:
    """The best ``k``: one of each welcome kind first, then by rank; a person once."""
    def rank(c: Candidate) -> float:
        return PRIORITY[c.kind] * (0.5 + 0.5 * c.score) * weights.get(c.kind, 1.0)

    ordered = sorted(candidates, key=lambda c: (-rank(c), c.kind, c.subject))
    chosen: list[Candidate] = []
    people: set[str] = set()

    def take(c: Candidate) -> None:
        if len(chosen) < k and c not in chosen and not people & set(c.people):
            chosen.append(c)
            people.update(c.people)

    welcome = [c for c in ordered if weights.get(c.kind, 1.0) >= LOW_WEIGHT]
    kinds_seen: set[str] = set()
    for c in welcome:  # variety first
        if c.kind not in kinds_seen:
            take(c)
            kinds_seen.add(c.kind)
    for c in welcome:
        take(c)
    if not chosen:  # an unwelcome kind only when nothing else is left
        for c in ordered[:1]:
            take(c)
    return sorted(chosen, key=lambda c: -rank(c))


# ---------------------------------------------------------------------- the holdout

def withheld(key: str, share: float, salt: str = "") -> bool:
    """Whether the suggestion identified by ``key`` is withheld (the holdout).

    A uniform draw from a hash of ``salt`` and ``key``: independent of the network, the
    same on every run (a dry run shows the real split), and ``share`` of all keys on average.

    Examples
    --------
    >>> draws = [withheld(f"s{i}", 0.2) for i in range(10_000)]
    >>> abs(sum(draws) / len(draws) - 0.2) < 0.012  # three standard errors
    True
    >>> withheld("s1", 0.0), withheld("s1", 1.0)
    (False, True)
    """
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# ---------------------------------------------------------------------- follow-through

def followed(created_at: datetime, tie_times: Iterable[datetime], now: datetime,
             window_days: float = 30.0) -> bool | None:
    """Did a tie follow a suggestion made at ``created_at`` within ``window_days``?

    True as soon as one tie falls in the window; None while the window is still open and no
    tie has come; False once it has closed without one.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1)
    >>> followed(t0, [t0 + timedelta(days=3)], t0 + timedelta(days=5))
    True
    >>> followed(t0, [t0 - timedelta(days=1)], t0 + timedelta(days=5)) is None
    True
    >>> followed(t0, [t0 + timedelta(days=31)], t0 + timedelta(days=40))
    False
    """
    end = created_at + timedelta(days=window_days)
    if any(created_at < t <= end for t in tie_times):
        return True
    return False if now >= end else None


@dataclass(frozen=True, slots=True)
class Rate:
    """``hits`` of ``total`` with its Wilson 95% interval (None when total is 0)."""

    hits: int
    total: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(hits: int, total: int, z: float = 1.959964) -> Rate:
    """The Wilson score interval of a proportion (good at small counts and near 0 or 1).

    Examples
    --------
    >>> r = wilson(8, 20)
    >>> round(r.rate, 2), round(r.low, 3), round(r.high, 3)
    (0.4, 0.219, 0.613)
    >>> wilson(0, 0).rate is None
    True
    """
    if total <= 0:
        return Rate(hits, total, None, None, None)
    p = hits / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == total else min(1.0, centre + half)
    return Rate(hits, total, p, low, high)


@dataclass(frozen=True, slots=True)
class Effect:
    """Follow-through of shown against withheld suggestions whose window has closed.

    ``difference`` is shown minus withheld, with Newcombe's 95% interval (``low``, ``high``);
    ``enough`` is False when either arm has fewer than ``min_per_arm`` finished suggestions,
    and then no conclusion should be drawn. ``open_*`` count suggestions still in their
    window.
    """

    shown: Rate
    withheld: Rate
    difference: float | None
    low: float | None
    high: float | None
    open_shown: int
    open_withheld: int
    min_per_arm: int
    enough: bool

    @property
    def total(self) -> int:
        return self.shown.total + self.withheld.total + self.open_shown + self.open_withheld


def follow_through(outcomes: Iterable[tuple[str, bool | None]],
                   min_per_arm: int = MIN_PER_ARM) -> Effect:
    """Compare the follow-through of the ``"shown"`` and ``"withheld"`` arms.

    ``outcomes`` are (arm, :func:`followed`) pairs. The difference's interval is Newcombe's
    hybrid score interval (method 10), built from the two Wilson intervals.

    Examples
    --------
    >>> data = [("shown", True)] * 30 + [("shown", False)] * 20 + [("withheld", True)] * 5
    >>> data += [("withheld", False)] * 20 + [("shown", None)] * 4
    >>> e = follow_through(data)
    >>> round(e.shown.rate, 2), round(e.withheld.rate, 2), round(e.difference, 2)
    (0.6, 0.2, 0.4)
    >>> round(e.low, 3), round(e.high, 3), e.enough, e.open_shown
    (0.164, 0.567, True, 4)
    >>> follow_through(data[:40]).enough
    False
    """
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    open_: Counter[str] = Counter()
    for arm, outcome in outcomes:
        if outcome is None:
            open_[arm] += 1
            continue
        totals[arm] += 1
        hits[arm] += bool(outcome)
    shown = wilson(hits["shown"], totals["shown"])
    held = wilson(hits["withheld"], totals["withheld"])
    diff = low = high = None
    if shown.rate is not None and held.rate is not None:
        assert shown.low is not None and shown.high is not None
        assert held.low is not None and held.high is not None
        diff = shown.rate - held.rate
        low = diff - math.sqrt((shown.rate - shown.low) ** 2 + (held.high - held.rate) ** 2)
        high = diff + math.sqrt((shown.high - shown.rate) ** 2 + (held.rate - held.low) ** 2)
    enough = min(totals["shown"], totals["withheld"]) >= min_per_arm
    return Effect(shown, held, diff, low, high, open_["shown"], open_["withheld"],
                  min_per_arm, enough)
