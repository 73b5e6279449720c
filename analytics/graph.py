"""From tie events to the directed weighted graph every other analysis reads.

This module owns the window, the decay, the kind filter and weights, and the removal of
opted-out and inactive people; nothing downstream ever sees a tie or a person it should not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from analytics.model import AnalysisOptions, Person, Tie

__all__ = ["build_graph", "empty_report", "to_utc"]

_SECONDS_PER_DAY = 86400.0


def to_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime; a naive datetime is taken to be UTC.

    Ties from CSV files may carry naive or aware timestamps; comparing the two would raise,
    so every timestamp is normalised once here.

    Examples
    --------
    >>> to_utc(datetime(2024, 5, 1, 12, 0)).isoformat()
    '2024-05-01T12:00:00+00:00'
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def empty_report() -> dict[str, Any]:
    """Return the build report with every counter at zero (see :func:`build_graph`).

    Examples
    --------
    >>> empty_report()["ties_read"]
    0
    """
    return {
        "ties_read": 0,
        "ties_used": 0,
        "self_ties_dropped": 0,
        "unknown_ids": [],
        "unknown_ties_dropped": 0,
        "outside_window": 0,
        "filtered_kind": 0,
        "invalid_weight": 0,
        "removed_people": 0,
        "removed_ties_dropped": 0,
        "window_end": None,
    }


def build_graph(
    ties: Iterable[Tie],
    people: Iterable[Person] | None = None,
    options: AnalysisOptions | None = None,
) -> tuple[nx.DiGraph, dict[str, Any]]:
    """Build the directed weighted tie graph and a report of what was dropped and why.

    A tie ``source -> target`` means *source named target* (asked, was helped by, recognised).
    Each tie is checked in this order and counted under the first reason that drops it:

    1. ``filtered_kind``: its kind is not in ``options.kinds`` (when given), or its kind
       weight in ``options.kind_weights`` is 0;
    2. ``outside_window``: it has an ``occurred_at`` older than ``options.window_days`` before
       ``now`` or later than ``now`` (``now`` is ``options.now``, else the latest
       ``occurred_at`` in the data, else the current UTC time). Ties without ``occurred_at``
       are always inside the window;
    3. ``invalid_weight``: its weight is negative, zero, NaN or infinite;
    4. ``self_ties_dropped``: source equals target;
    5. ``unknown_ties_dropped``: (only when ``people`` is given) an endpoint is not a person;
    6. ``removed_ties_dropped``: an endpoint is opted out or inactive.

    A tie that stays keeps ``weight * kind_weights.get(kind, 1)``, times the decay
    ``0.5 ** (age_days / half_life_days)`` when it has ``occurred_at`` and a half-life is set.
    Repeated ``(source, target)`` ties are merged: weights summed, events counted.

    Parameters
    ----------
    ties : iterable of Tie
        Tie events, in any order.
    people : iterable of Person, optional
        The roster. When given, every active, non-opted-out person is a node (isolates
        included) and tie endpoints outside the roster are reported as unknown. When None,
        the nodes are the ids seen in ties that pass the kind, window and weight checks.
    options : AnalysisOptions, optional
        Window, half-life, kinds, kind weights and ``now``; defaults to the product defaults.

    Returns
    -------
    G : networkx.DiGraph
        Nodes (sorted by id) carry ``name``, ``team``, ``champion`` and every entry of
        ``Person.attrs``; edges carry ``weight`` (decayed sum), ``count`` (tie events) and
        ``kinds`` (sorted distinct non-empty kinds joined by ",").
    report : dict
        ``ties_read``, ``ties_used``, the drop counters above, ``unknown_ids`` (sorted) and
        ``removed_people`` (opted-out plus inactive people in the roster) and ``window_end``
        (the ``now`` used, ISO 8601 in UTC).

    Examples
    --------
    >>> from analytics.model import Tie, Person
    >>> ties = [Tie("a", "b"), Tie("a", "b", kind="advice"), Tie("b", "b"), Tie("c", "x")]
    >>> people = [Person("a", team="t1"), Person("b", team="t1"), Person("c", opted_out=True)]
    >>> G, report = build_graph(ties, people)
    >>> sorted(G.edges(data=True))
    [('a', 'b', {'weight': 2.0, 'count': 2, 'kinds': 'advice'})]
    >>> report["self_ties_dropped"], report["unknown_ids"], report["removed_people"]
    (1, ['x'], 1)
    """
    options = options if options is not None else AnalysisOptions()
    tie_list = list(ties)
    report = empty_report()
    report["ties_read"] = len(tie_list)

    roster: dict[str, Person] | None = None
    removed: set[str] = set()
    if people is not None:
        roster = {}
        for person in people:
            roster[str(person.id)] = person
        removed = {pid for pid, p in roster.items() if p.opted_out or not p.active}
        report["removed_people"] = len(removed)

    stamps = [to_utc(t.occurred_at) for t in tie_list if t.occurred_at is not None]
    if options.now is not None:
        now = to_utc(options.now)
    elif stamps:
        now = max(stamps)
    else:
        now = datetime.now(UTC)
    window_s = None if options.window_days is None else float(options.window_days) * 86400.0
    half_life_s = (
        None
        if options.half_life_days is None or options.half_life_days <= 0
        else float(options.half_life_days) * _SECONDS_PER_DAY
    )
    kinds = None if options.kinds is None else frozenset(options.kinds)
    kind_weights = options.kind_weights

    # Aggregate in plain dicts first: far cheaper than updating networkx edge dicts per tie.
    weights: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    edge_kinds: dict[tuple[str, str], set[str]] = {}
    seen: set[str] = set()
    unknown: set[str] = set()

    for tie in tie_list:
        source, target = str(tie.source), str(tie.target)
        if roster is not None:
            # Unknown ids are reported whatever happens to the tie later: a data-quality signal.
            for pid in (source, target):
                if pid not in roster:
                    unknown.add(pid)
        kind_weight = float(kind_weights.get(tie.kind, 1.0))
        if (kinds is not None and tie.kind not in kinds) or kind_weight == 0.0:
            report["filtered_kind"] += 1
            continue
        factor = 1.0
        if tie.occurred_at is not None:
            age_s = (now - to_utc(tie.occurred_at)).total_seconds()
            if age_s < 0 or (window_s is not None and age_s > window_s):
                report["outside_window"] += 1
                continue
            if half_life_s is not None:
                factor = 0.5 ** (age_s / half_life_s)
        weight = float(tie.weight) * kind_weight * factor
        if not (math.isfinite(weight) and weight > 0.0):
            report["invalid_weight"] += 1
            continue
        if source == target:
            report["self_ties_dropped"] += 1
            if roster is None:
                seen.add(source)
            continue
        if roster is not None:
            if source not in roster or target not in roster:
                report["unknown_ties_dropped"] += 1
                continue
            if source in removed or target in removed:
                report["removed_ties_dropped"] += 1
                continue
        else:
            seen.add(source)
            seen.add(target)
        key = (source, target)
        weights[key] = weights.get(key, 0.0) + weight
        counts[key] = counts.get(key, 0) + 1
        if key in edge_kinds:
            edge_kinds[key].add(tie.kind)
        else:
            edge_kinds[key] = {tie.kind}
        report["ties_used"] += 1

    report["unknown_ids"] = sorted(unknown)
    report["window_end"] = now.isoformat()

    G: nx.DiGraph = nx.DiGraph()
    if roster is not None:
        for pid in sorted(roster):
            if pid in removed:
                continue
            person = roster[pid]
            attrs: dict[str, Any] = dict(person.attrs)
            attrs.update(name=person.name, team=person.team, champion=bool(person.champion))
            G.add_node(pid, **attrs)
    else:
        for pid in sorted(seen):
            G.add_node(pid, name="", team="", champion=False)
    def kinds_label(found: set[str]) -> str:
        if len(found) == 1:  # the common case: skip sorting and joining
            return next(iter(found))
        return ",".join(sorted(k for k in found if k))

    # Sorted edges make the graph (and so Louvain's visiting order) independent of tie order.
    G.add_edges_from(
        (key[0], key[1], {"weight": weights[key], "count": counts[key],
                          "kinds": kinds_label(edge_kinds[key])})
        for key in sorted(weights)
    )
    return G, report
