"""From tie events to the directed weighted graph every other analysis reads.

This module owns the window, the decay, the kind filter and weights, and the removal of
opted-out and inactive people; nothing downstream ever sees a tie or a person it should not.

Ties travel as columns (:class:`TieColumns`: what the CSV reader produces, or one pass over
a list of :class:`~analytics.model.Tie`), and the graph is built without a Python loop over
the ties: ids are coded once, every check is a numpy mask, duplicates are summed by one sort.
The integer arrays of the result (:class:`~analytics._arrays.GraphArrays`) are handed to
every later step, so the analysis converts the graph to arrays exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx
import numpy as np

from analytics._arrays import GraphArrays
from analytics.model import AnalysisOptions, Person, Tie

__all__ = [
    "NO_TIME",
    "TieColumns",
    "build_graph",
    "build_graph_arrays",
    "empty_report",
    "micros",
    "to_utc",
]

_SECONDS_PER_DAY = 86400.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Marks a tie without ``occurred_at`` in :attr:`TieColumns.occurred_us`.
NO_TIME = np.iinfo(np.int64).min


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


def micros(moment: datetime | None) -> int:
    """Microseconds since 1970 (UTC; naive is UTC) as an exact integer; :data:`NO_TIME` for None.

    Examples
    --------
    >>> micros(datetime(1970, 1, 1, 0, 0, 1)), micros(None) == NO_TIME
    (1000000, True)
    """
    if moment is None:
        return int(NO_TIME)
    delta = to_utc(moment) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True, slots=True)
class TieColumns:
    """Tie events as columns, one entry a tie: the form the graph is built from.

    ``occurred_us`` holds exact microseconds since 1970 UTC (:func:`micros`), with
    :data:`NO_TIME` for a tie without a time; ``weight`` is float64. ``origin`` is kept for
    writers and may be empty.
    """

    source: Sequence[str]
    target: Sequence[str]
    kind: Sequence[str]
    weight: np.ndarray
    occurred_us: np.ndarray
    origin: Sequence[str] = ()

    def __len__(self) -> int:
        return len(self.source)

    @classmethod
    def from_ties(cls, ties: Iterable[Tie]) -> TieColumns:
        """One pass over :class:`~analytics.model.Tie` objects.

        Examples
        --------
        >>> cols = TieColumns.from_ties([Tie("a", "b", "helped", 2.0)])
        >>> list(cols.source), cols.weight.tolist(), bool(cols.occurred_us[0] == NO_TIME)
        (['a'], [2.0], True)
        """
        tie_list = ties if isinstance(ties, list) else list(ties)
        return cls(
            source=[str(t.source) for t in tie_list],
            target=[str(t.target) for t in tie_list],
            kind=[t.kind for t in tie_list],
            weight=np.fromiter((t.weight for t in tie_list), dtype=np.float64,
                               count=len(tie_list)),
            occurred_us=np.fromiter((micros(t.occurred_at) for t in tie_list),
                                    dtype=np.int64, count=len(tie_list)),
            origin=[t.origin for t in tie_list],
        )

    def to_ties(self) -> list[Tie]:
        """Back to :class:`~analytics.model.Tie` objects (file order)."""
        origins = self.origin if len(self.origin) == len(self) else [""] * len(self)
        stamps = [None if us == NO_TIME else _EPOCH + timedelta(microseconds=us)
                  for us in self.occurred_us.tolist()]
        return [
            Tie(s, t, k, w, at, o)
            for s, t, k, w, at, o in zip(self.source, self.target, self.kind,
                                         self.weight.tolist(), stamps, origins, strict=True)
        ]


def _factorize(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Integer code per value (first-seen order) and the distinct values."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64,
                        count=len(values))
    return codes, list(index)


def build_graph(
    ties: Iterable[Tie] | TieColumns,
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
    Repeated ``(source, target)`` ties are merged: weights summed (in tie order), events
    counted. See :func:`build_graph_arrays` for the same graph with its array view.

    Parameters
    ----------
    ties : iterable of Tie, or TieColumns
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
        ``Person.attrs``; edges (sorted) carry ``weight`` (decayed sum), ``count`` (tie
        events) and ``kinds`` (sorted distinct non-empty kinds joined by ",").
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
    G, report, _ = build_graph_arrays(ties, people, options)
    return G, report


def build_graph_arrays(
    ties: Iterable[Tie] | TieColumns,
    people: Iterable[Person] | None = None,
    options: AnalysisOptions | None = None,
) -> tuple[nx.DiGraph, dict[str, Any], GraphArrays]:
    """:func:`build_graph`, plus the :class:`~analytics._arrays.GraphArrays` of the graph.

    The arrays (nodes sorted by id, one entry per distinct tie, ``weight`` the decayed sum)
    are the graph's one conversion to arrays: every later step of the pipeline reads them.

    Examples
    --------
    >>> G, report, arr = build_graph_arrays([Tie("b", "a", weight=2), Tie("b", "a")])
    >>> arr.nodes, arr.src.tolist(), arr.dst.tolist(), arr.weight.tolist()
    (['a', 'b'], [1], [0], [3.0])
    """
    options = options if options is not None else AnalysisOptions()
    cols = ties if isinstance(ties, TieColumns) else TieColumns.from_ties(ties)
    m = len(cols)
    report = empty_report()
    report["ties_read"] = m

    roster: dict[str, Person] | None = None
    removed: set[str] = set()
    if people is not None:
        roster = {str(person.id): person for person in people}
        removed = {pid for pid, p in roster.items() if p.opted_out or not p.active}
        report["removed_people"] = len(removed)

    # Ids coded once: every later check works on integer codes.
    id_code, ids = _factorize([*cols.source, *cols.target])
    s_code, t_code = id_code[:m], id_code[m:]
    kind_code, kind_names = _factorize(cols.kind)

    occurred = np.asarray(cols.occurred_us, dtype=np.int64)
    timed = occurred != NO_TIME
    if options.now is not None:
        now_us = micros(options.now)
    elif timed.any():
        now_us = int(occurred[timed].max())
    else:
        now_us = micros(datetime.now(UTC))

    kinds = None if options.kinds is None else frozenset(options.kinds)
    kind_weight = np.array([float(options.kind_weights.get(k, 1.0)) for k in kind_names],
                           dtype=np.float64)
    kind_ok = np.array([kinds is None or k in kinds for k in kind_names], dtype=bool)
    kind_ok &= kind_weight != 0.0
    dropped = ~kind_ok[kind_code] if m else np.zeros(0, dtype=bool)
    report["filtered_kind"] = int(dropped.sum())

    age_s = np.where(timed, (now_us - np.where(timed, occurred, now_us)) / 1e6, 0.0)
    outside = timed & (age_s < 0)
    if options.window_days is not None:
        outside |= timed & (age_s > float(options.window_days) * _SECONDS_PER_DAY)
    outside &= ~dropped
    report["outside_window"] = int(outside.sum())
    dropped |= outside

    factor = np.ones(m, dtype=np.float64)
    if options.half_life_days is not None and options.half_life_days > 0:
        half_life_s = float(options.half_life_days) * _SECONDS_PER_DAY
        factor = np.where(timed, 0.5 ** (age_s / half_life_s), 1.0)
    with np.errstate(invalid="ignore", over="ignore"):
        weight = np.asarray(cols.weight, dtype=np.float64) * kind_weight[kind_code] * factor
        invalid = ~(np.isfinite(weight) & (weight > 0.0)) & ~dropped
    report["invalid_weight"] = int(invalid.sum())
    dropped |= invalid

    self_tie = (s_code == t_code) & ~dropped
    report["self_ties_dropped"] = int(self_tie.sum())
    dropped |= self_tie

    if roster is not None:
        known = np.array([i in roster for i in ids], dtype=bool)
        gone = np.array([i in removed for i in ids], dtype=bool)
        report["unknown_ids"] = sorted(i for i, k in zip(ids, known.tolist(), strict=True)
                                       if not k)
        unknown = ~(known[s_code] & known[t_code]) & ~dropped
        report["unknown_ties_dropped"] = int(unknown.sum())
        dropped |= unknown
        removed_tie = (gone[s_code] | gone[t_code]) & ~dropped
        report["removed_ties_dropped"] = int(removed_tie.sum())
        dropped |= removed_tie
        nodes = sorted(pid for pid in roster if pid not in removed)
    else:
        # Without a roster the people are the ids of used ties, and of self-ties that
        # passed the kind, window and weight checks (as a person who named themself).
        seen = np.zeros(len(ids), dtype=bool)
        seen[s_code[~dropped]] = True
        seen[t_code[~dropped]] = True
        seen[s_code[self_tie]] = True
        nodes = sorted(i for i, k in zip(ids, seen.tolist(), strict=True) if k)
    used = ~dropped
    report["ties_used"] = int(used.sum())
    report["window_end"] = (_EPOCH + timedelta(microseconds=now_us)).isoformat()

    index = {node: i for i, node in enumerate(nodes)}
    to_node = np.array([index.get(i, -1) for i in ids], dtype=np.int64)
    n = len(nodes)
    src, dst = to_node[s_code[used]], to_node[t_code[used]]
    w_used, k_used = weight[used], kind_code[used]

    # Duplicates summed in tie order: a stable sort keeps each pair's ties in file order.
    key = src * max(n, 1) + dst
    order = np.argsort(key, kind="stable")
    key, w_used, k_used = key[order], w_used[order], k_used[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    edge_key = key[starts]
    edge_weight = np.add.reduceat(w_used, starts) if key.size else np.zeros(0)
    edge_count = np.diff(np.append(starts, key.size))
    labels = _kind_labels(np.cumsum(first) - 1, k_used, kind_names, starts.size)

    e_src, e_dst = edge_key // max(n, 1), edge_key % max(n, 1)
    G: nx.DiGraph = nx.DiGraph()
    if roster is not None:
        for pid in nodes:
            person = roster[pid]
            attrs: dict[str, Any] = dict(person.attrs)
            attrs.update(name=person.name, team=person.team, champion=bool(person.champion))
            G.add_node(pid, **attrs)
    else:
        G.add_nodes_from((pid, {"name": "", "team": "", "champion": False}) for pid in nodes)
    G.add_edges_from(
        (nodes[a], nodes[b], {"weight": w, "count": c, "kinds": k})
        for a, b, w, c, k in zip(e_src.tolist(), e_dst.tolist(), edge_weight.tolist(),
                                 edge_count.tolist(), labels, strict=True)
    )
    arrays = GraphArrays(nodes, index, e_src, e_dst, edge_weight)
    return G, report, arrays


def _kind_labels(edge_of: np.ndarray, kind: np.ndarray, names: list[str],
                 edges: int) -> list[str]:
    """Per edge: its one kind, or its distinct non-empty kinds sorted and joined by ","."""
    if edges == 0:
        return []
    k = max(1, len(names))
    pairs = np.unique(edge_of * k + kind)  # distinct (edge, kind), sorted by edge
    pair_edge = pairs // k
    per_edge = np.bincount(pair_edge, minlength=edges)
    first_kind = np.zeros(edges, dtype=np.int64)
    first_kind[pair_edge[::-1]] = (pairs % k)[::-1]  # any kind of the edge: its only one
    labels = [names[c] for c in first_kind.tolist()]
    bounds = np.searchsorted(pair_edge, np.arange(edges + 1))
    codes = (pairs % k).tolist()
    for e in np.flatnonzero(per_edge > 1).tolist():
        found = [names[c] for c in codes[bounds[e] : bounds[e + 1]]]
        labels[e] = ",".join(sorted(x for x in found if x))
    return labels
