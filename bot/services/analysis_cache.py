"""Owners' analyses computed once per state of the data and reused (issue 13).

`/network person`, `champions` and `compare` used to run the whole pipeline on every
request. Now the analysis of a window is computed once, kept in memory, and reused until
the data changes: the key holds the state of the ties and of the people (a version read
with a few aggregate queries, before the inputs are read, :func:`data_state`) and the
options in force. An entry is also retired after :data:`MAX_AGE` (the window and the decay
move with the clock), and only :data:`MAX_ENTRIES` are kept.

**New ties: answered at once, refreshed behind.** At 10,000 people a whole analysis takes
3-4 s and in a live programme ties arrive all day, so an exact key alone would make most
owners' questions wait for one. When the only change since a cached analysis is that ties
were *added* (:func:`ties_only_added`: the people's state is identical, so nobody opted
out, in, was erased or changed in the roster or as a champion; and the ties with an id up
to the cached highest are still exactly as many as it counted, with the same latest
creation time, so none was purged, undone or erased and no id was reused), the question
is answered at once from it (:meth:`AnalysisCache.answer`), the answer says how fresh it
is ("Figures as of 14:02 UTC; 3 ties recorded since are being added"), and the analysis
is computed again in a background thread (:meth:`AnalysisCache.refresh`: one refresh at a
time per window and options; a question that must wait for the same key waits for that
computation instead of running a second one). Later questions use the fresh analysis.

The staleness is bounded: a cached analysis is answered from only while it is at most
:data:`STALE_MAX_AGE` old and lacks at most :data:`STALE_MAX_SHARE` of the ties it
counted; beyond either, the question waits for a fresh analysis, as it does after any
other change. Any other change (an opt-out, opt-in, erasure, retention purge, undone tie,
roster or champion change) invalidates at once: entries whose data changed in any other
way are dropped at the next lookup, so a cached analysis never shows a person who has
since opted out or been erased, and their data does not linger either.

The cache lives in the process (each worker of a multi-worker server keeps its own): it
holds people's data, so it is never written to disk.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from analytics.model import Analysis
from bot.models import Person, Tie, Workspace

__all__ = ["MAX_AGE", "MAX_ENTRIES", "STALE_MAX_AGE", "STALE_MAX_SHARE", "CacheKey", "Cached",
           "DataState", "Found", "analyses", "data_state", "ties_only_added"]

log = logging.getLogger(__name__)

#: A cached analysis older than this is computed again (the window and the decay move on).
MAX_AGE = timedelta(hours=6)
#: How many analyses are kept (the current window and the one before it, for a couple of
#: windows); at 10,000 people one takes about 100 MB.
MAX_ENTRIES = 4
#: An analysis that lacks ties recorded since is answered from (and refreshed behind) only
#: while it is at most this old ...
STALE_MAX_AGE = timedelta(minutes=30)
#: ... and lacks at most this share of the ties it counted (5%: at 10,000 people and 50,000
#: ties, 2,500 new ties); beyond either, the owner waits for a fresh analysis.
STALE_MAX_SHARE = 0.05


@dataclass(frozen=True)
class DataState:
    """A version of everything an analysis reads (:func:`data_state`).

    ``ties``, ``max_tie_id`` and ``last_tie_at``: the workspace's ties, their count,
    highest id and latest creation time. ``people``: the people's count, highest id,
    latest update, and how many are opted out, active and champions.
    """

    ties: int
    max_tie_id: int | None
    last_tie_at: datetime | None
    people: tuple[Any, ...]


def data_state(session: Session, workspace: Workspace) -> DataState:
    """A version of everything an analysis reads: changes whenever any of it changes.

    Ties: count, highest id and latest creation time (an erased tie lowers the count; a new
    one raises the id or, where a database reuses ids, the creation time). People: count,
    highest id, latest update, and how many are opted out, active and champions (an opt-out
    shows in the count even if a clock went backwards).
    """
    count, max_id, last_at = session.execute(
        select(func.count(Tie.id), func.max(Tie.id), func.max(Tie.created_at))
        .where(Tie.workspace_id == workspace.id)
    ).one()
    people = session.execute(
        select(
            func.count(Person.id), func.max(Person.id), func.max(Person.updated_at),
            func.sum(case((Person.opted_out.is_(True), 1), else_=0)),
            func.sum(case((Person.is_active.is_(True), 1), else_=0)),
            func.sum(case((Person.is_champion.is_(True), 1), else_=0)),
        ).where(Person.workspace_id == workspace.id)
    ).one()
    return DataState(int(count or 0), max_id, last_at, tuple(people))


def ties_only_added(session: Session, workspace: Workspace, old: DataState,
                    new: DataState) -> bool:
    """Whether the only change from ``old`` to ``new`` is that ties were added.

    The people's state must be identical (no opt-out, opt-in, erasure, roster or champion
    change), there must be more ties, and the ties with an id up to ``old``'s highest must
    be exactly as many as ``old`` counted, with the same latest creation time: a tie
    removed (retention purge, an undone kudos, an erasure) lowers that count, and an id a
    database reused for a new tie brings a later creation time. One aggregate query.
    """
    if old.people != new.people or new.ties <= old.ties:
        return False
    if old.max_tie_id is None:
        return old.ties == 0  # there were no ties: every one is new
    count, last_at = session.execute(
        select(func.count(Tie.id), func.max(Tie.created_at))
        .where(Tie.workspace_id == workspace.id, Tie.id <= old.max_tie_id)
    ).one()
    return int(count or 0) == old.ties and last_at == old.last_tie_at


@dataclass(frozen=True)
class CacheKey:
    """Which analysis: the database, workspace and data state, and the options in force."""

    database: str
    workspace_id: int
    state: DataState
    options: tuple[Any, ...]

    @property
    def scope(self) -> tuple[str, int]:
        return (self.database, self.workspace_id)

    @property
    def slot(self) -> tuple[str, int, tuple[Any, ...]]:
        """The same analysis whatever the data's state (what a refresh is one per)."""
        return (self.database, self.workspace_id, self.options)


@dataclass
class Cached:
    """One cached analysis, with what owners' questions derive from it (computed once).

    ``inputs`` are the ties and people it was computed from (the same data, already in
    memory): `/network compare` builds the window before from them without reading again.
    """

    analysis: Analysis
    computed_at: datetime
    inputs: Any = None
    derived: dict[Any, Any] = field(default_factory=dict)

    def derive(self, name: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per entry (rank tables, champion picks for another k ...)."""
        if name not in self.derived:
            self.derived[name] = compute()
        return self.derived[name]


@dataclass(frozen=True)
class Found:
    """The analysis an owner's question is answered from.

    ``behind``: how many ties were recorded since it was computed (0: it is exact); when
    more than 0 the answer says so and the caller starts :meth:`AnalysisCache.refresh`.
    """

    entry: Cached
    key: CacheKey
    behind: int = 0

    @property
    def as_of(self) -> datetime:
        return self.entry.computed_at


class AnalysisCache:
    """A small, thread-safe map from :class:`CacheKey` to :class:`Cached` analyses."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age: timedelta = MAX_AGE,
                 stale_max_age: timedelta = STALE_MAX_AGE,
                 stale_max_share: float = STALE_MAX_SHARE) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.stale_max_age = stale_max_age
        self.stale_max_share = stale_max_share
        self._entries: OrderedDict[CacheKey, Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[CacheKey, threading.Lock] = {}
        self._refreshing: dict[tuple[Any, ...], threading.Thread] = {}
        self.computed = 0  # how many analyses were computed (tests and the bench read it)
        self.refreshed = 0  # how many background refreshes finished

    def _fresh(self, key: CacheKey, now: datetime) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not timedelta(0) <= now - entry.computed_at <= self.max_age:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _within_bounds(self, base: CacheKey, key: CacheKey, entry: Cached,
                       now: datetime) -> bool:
        behind = key.state.ties - base.state.ties
        return (timedelta(0) <= now - entry.computed_at <= self.stale_max_age
                and 0 < behind <= self.stale_max_share * base.state.ties)

    def answer(self, key: CacheKey, now: datetime, compute: Callable[[], tuple[Analysis, Any]],
               only_added: Callable[[DataState], bool]) -> Found:
        """What an owner's question is answered from: the exact analysis for ``key``; else
        one of the same window and options that lacks only ties added since (checked with
        ``only_added``, :func:`ties_only_added` on the caller's session) and is within the
        bounds (:data:`STALE_MAX_AGE`, :data:`STALE_MAX_SHARE`); else a fresh one, computed
        now (:meth:`get`). Entries of this workspace whose data changed in any other way
        are dropped here."""
        with self._lock:
            exact = self._fresh(key, now)
            if exact is not None:
                self._forget_other_states(key)
                return Found(exact, key)
            others = [(k, e) for k, e in self._entries.items()
                      if k.scope == key.scope and k.state != key.state]
        verdicts: dict[DataState, bool] = {}
        for k, _ in others:  # queries: outside the lock
            if k.state not in verdicts:
                verdicts[k.state] = only_added(k.state)
        best: tuple[CacheKey, Cached] | None = None
        with self._lock:
            exact = self._fresh(key, now)  # a refresh may have landed meanwhile
            if exact is not None:
                return Found(exact, key)
            for k, e in others:
                if self._entries.get(k) is not e:  # dropped meanwhile
                    continue
                if not verdicts[k.state]:
                    del self._entries[k]
                elif (k.slot == key.slot and self._within_bounds(k, key, e, now)
                      and (best is None or k.state.ties > best[0].state.ties)):
                    best = (k, e)
            if best is not None:
                self._entries.move_to_end(best[0])
                return Found(best[1], key, key.state.ties - best[0].state.ties)
        return Found(self.get(key, now, compute), key)

    def get(self, key: CacheKey, now: datetime,
            compute: Callable[[], tuple[Analysis, Any]]) -> Cached:
        """The cached analysis for exactly ``key``, computing it (once, even when asked
        concurrently or while a refresh computes it) when missing or too old;
        ``compute`` returns the analysis and the inputs it read."""
        with self._lock:
            entry = self._fresh(key, now)
            if entry is not None:
                return entry
            guard = self._computing.setdefault(key, threading.Lock())
        with guard:
            with self._lock:
                entry = self._fresh(key, now)
                if entry is not None:
                    return entry
            return self.put(key, now, *compute())

    def put(self, key: CacheKey, now: datetime, analysis: Analysis, inputs: Any = None
            ) -> Cached:
        """Store an analysis (a snapshot's, or one computed by :meth:`get`) and return its
        entry. Entries of the workspace's other states computed no later are dropped (one
        computed later, e.g. while a slow refresh ran, is kept: the next lookup judges it).
        """
        entry = Cached(analysis, now, inputs)
        with self._lock:
            self.computed += 1
            for other in [k for k, e in self._entries.items()
                          if k.scope == key.scope and k.state != key.state
                          and e.computed_at <= now]:
                del self._entries[other]
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self._computing.pop(key, None)
        return entry

    def _forget_other_states(self, key: CacheKey) -> None:
        for other in [k for k in self._entries if k.scope == key.scope and k.state != key.state]:
            del self._entries[other]

    def refresh(self, key: CacheKey, run: Callable[[], object]) -> bool:
        """Run ``run`` (it computes and stores the analysis of ``key``'s window and options
        for the data as it then is, through :meth:`get`) in a background thread, unless a
        refresh of the same window and options is running. Returns whether one started."""
        with self._lock:
            running = self._refreshing.get(key.slot)
            if running is not None and running.is_alive():
                return False
            thread = threading.Thread(target=self._refresh, args=(key.slot, run),
                                      name="peerpulse-analysis-refresh", daemon=True)
            self._refreshing[key.slot] = thread
            thread.start()
        return True

    def _refresh(self, slot: tuple[Any, ...], run: Callable[[], object]) -> None:
        try:
            run()
        except Exception:  # the owner already has an answer; the next question retries
            log.exception("refreshing an owners' analysis in the background failed")
        finally:
            with self._lock:
                if self._refreshing.get(slot) is threading.current_thread():
                    del self._refreshing[slot]
                self.refreshed += 1

    def wait_for_refreshes(self, timeout: float = 60.0) -> bool:
        """Wait until no refresh is running (tests, the benchmark, shutting down)."""
        with self._lock:
            threads = list(self._refreshing.values())
        for thread in threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in threads)

    def clear(self) -> None:
        self.wait_for_refreshes()
        with self._lock:
            self._entries.clear()
            self._computing.clear()
            self.computed = 0
            self.refreshed = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The process's cache of owners' analyses.
analyses = AnalysisCache()
