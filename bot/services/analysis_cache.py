"""Owners' analyses computed once per state of the data and reused (issue 13).

`/network person`, `champions` and `compare` used to run the whole pipeline on every
request. Now the analysis of a window is computed once, kept in memory, and reused until
the data changes: the key holds the state of the ties and of the people (a version read
with a few aggregate queries, before the inputs are read) and the options in force. Any
new, changed or erased tie, and any opt-out, opt-in, roster change or champion change
gives a new state, so a cached analysis never shows a person who has since opted out or
been erased; entries of an older state are dropped at the next lookup, so their data does
not linger either. An entry is also retired after :data:`MAX_AGE` (the window and the
decay move with the clock), and only :data:`MAX_ENTRIES` are kept.

The cache lives in the process (each worker of a multi-worker server keeps its own): it
holds people's data, so it is never written to disk.
"""

from __future__ import annotations

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

__all__ = ["MAX_AGE", "MAX_ENTRIES", "CacheKey", "Cached", "analyses", "data_state"]

#: A cached analysis older than this is computed again (the window and the decay move on).
MAX_AGE = timedelta(hours=6)
#: How many analyses are kept (the current window and the one before it, for a couple of
#: windows); at 10,000 people one takes about 100 MB.
MAX_ENTRIES = 4


def data_state(session: Session, workspace: Workspace) -> tuple[Any, ...]:
    """A version of everything an analysis reads: changes whenever any of it changes.

    Ties: count, highest id and latest creation time (an erased tie lowers the count; a new
    one raises the id or, where a database reuses ids, the creation time). People: count,
    highest id, latest update, and how many are opted out, active and champions (an opt-out
    shows in the count even if a clock went backwards).
    """
    ties = session.execute(
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
    return (*tuple(ties), *tuple(people))


@dataclass(frozen=True)
class CacheKey:
    """Which analysis: the database, workspace and data state, and the options in force."""

    database: str
    workspace_id: int
    state: tuple[Any, ...]
    options: tuple[Any, ...]

    @property
    def scope(self) -> tuple[str, int]:
        return (self.database, self.workspace_id)


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


class AnalysisCache:
    """A small, thread-safe map from :class:`CacheKey` to :class:`Cached` analyses."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age: timedelta = MAX_AGE) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self._entries: OrderedDict[CacheKey, Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[CacheKey, threading.Lock] = {}
        self.computed = 0  # how many analyses were computed (tests and the bench read it)

    def _forget_other_states(self, key: CacheKey) -> None:
        for other in [k for k in self._entries if k.scope == key.scope and k.state != key.state]:
            del self._entries[other]

    def _fresh(self, key: CacheKey, now: datetime) -> Cached | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not timedelta(0) <= now - entry.computed_at <= self.max_age:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def get(self, key: CacheKey, now: datetime,
            compute: Callable[[], tuple[Analysis, Any]]) -> Cached:
        """The cached analysis for ``key``, computing it (once, even when asked
        concurrently) when missing or too old; ``compute`` returns the analysis and the
        inputs it read."""
        with self._lock:
            self._forget_other_states(key)
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
        """Store an analysis computed elsewhere (a snapshot) and return its entry."""
        entry = Cached(analysis, now, inputs)
        with self._lock:
            self.computed += 1
            self._forget_other_states(key)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self._computing.pop(key, None)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._computing.clear()
            self.computed = 0

    def __len__(self) -> int:
        return len(self._entries)


#: The process's cache of owners' analyses.
analyses = AnalysisCache()
