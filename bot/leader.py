"""Which process runs the scheduled work when several serve one database: leader election
through a PostgreSQL session-level advisory lock held on a connection of its own.

The process holding the lock leads (`Leadership.on_elected`); the others try again every
``retry`` seconds. A leader that dies (kill -9, a lost machine) drops its connection, and
PostgreSQL frees the lock with it, so a standby takes over at its next try. The leader
checks its connection just as often: once it is lost (a PostgreSQL restart) it steps down
at once (`Leadership.on_deposed`) and contends again. On SQLite there is one process, and
it always leads.

Leadership alone cannot rule out a moment with two leaders (a leader that has not yet
noticed its lost connection), so each scheduled run is also claimed once in the database
(`claim_run`, the ``job_runs`` table).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from bot.db import LEADER_LOCK
from bot.models import JobRun

log = logging.getLogger(__name__)

#: TCP keepalives on the lock connection: a silently lost server is noticed in ~15 s.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
               "keepalives_count": 3, "connect_timeout": 5}


def process_name() -> str:
    """Who this process is, for logs and the ``job_runs`` table: host, pid and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _lock_engine(engine: Engine) -> Engine:
    """An engine of single, unpooled connections to ``engine``'s database."""
    return create_engine(engine.url, poolclass=NullPool, connect_args=_KEEPALIVES)


class Leadership:
    """Lead while holding the advisory lock; call ``on_elected`` on winning it and
    ``on_deposed`` on losing it (or on `stop`). Both run in the election thread.

    Parameters
    ----------
    engine:
        The application's engine: its database is the one contended for.
    retry:
        Seconds between two tries for the lock, and between two checks of a held one.
    """

    def __init__(self, engine: Engine, *, on_elected: Callable[[], None],
                 on_deposed: Callable[[], None], retry: float = 5.0,
                 key: int = LEADER_LOCK, name: str | None = None) -> None:
        self.engine, self.retry, self.key = engine, retry, key
        self.on_elected, self.on_deposed = on_elected, on_deposed
        self.name = name or process_name()
        self.started = int(time.time())
        self._leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_engine: Engine | None = None
        self._conn: Connection | None = None

    @property
    def leading(self) -> bool:
        return self._leading

    def start(self) -> None:
        if self._thread is not None or self._leading:
            return
        self._stop.clear()
        if not is_postgresql(self.engine):
            self._elected()  # one process per SQLite database: it leads
            return
        self._lock_engine = _lock_engine(self.engine)
        self._thread = threading.Thread(target=self._run, name="peerpulse-leader",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Step down (when leading) and release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.retry + 10)
            self._thread = None
        elif self._leading:
            self._deposed("stopping")

    # ------------------------------------------------------------------ the election thread

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._leading:
                if not self._still_held():
                    self._deposed("lost its database connection")
                    continue  # contend again at once
            elif self._try_lock():
                self._elected()
            self._stop.wait(self.retry)
        if self._leading:
            self._deposed("stopping")
        self._close()

    def _try_lock(self) -> bool:
        try:
            if self._conn is None:
                assert self._lock_engine is not None
                conn = self._lock_engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT")
                # Present while connected, with this process's start (`oldest_live_start`).
                conn.execute(text("SELECT pg_advisory_lock_shared(:started, :ns)"),
                             {"started": self.started, "ns": PRESENCE})
                self._conn = conn
            return bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                           {"key": self.key}).scalar())
        except Exception as exc:
            log.warning("leader election: cannot reach the database (%s); retrying in %g s",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                        self.retry)
            self._close()
            return False

    def _still_held(self) -> bool:
        try:
            assert self._conn is not None
            self._conn.execute(text("SELECT 1")).scalar()
            return True
        except Exception:
            return False

    def _elected(self) -> None:
        self._leading = True
        log.info("leadership: %s now runs the scheduled jobs", self.name)
        try:
            self.on_elected()
        except Exception:
            log.exception("leadership: starting the scheduled jobs failed; stepping down")
            self._deposed("could not start its jobs")

    def _deposed(self, why: str) -> None:
        self._leading = False
        log.warning("leadership: %s stopped running the scheduled jobs (%s)", self.name, why)
        try:
            self.on_deposed()
        except Exception:
            log.exception("leadership: stopping the scheduled jobs failed")
        self._close()

    def _close(self) -> None:
        """Drop the lock connection (which releases the lock, if it is still there)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a dead connection may fail to close: it is gone either way
                conn.invalidate()
        if self._stop.is_set() and self._lock_engine is not None:
            self._lock_engine.dispose()


#: The second key of each process's presence lock (the first is its start, in seconds).
PRESENCE = 0x5050_5253


def _presence(engine: Engine, aggregate: str) -> int | None:
    """``aggregate`` over the presence locks held on this PostgreSQL database."""
    with engine.connect() as conn:
        value = conn.execute(text(
            f"SELECT {aggregate} FROM pg_locks WHERE locktype = 'advisory' "
            "AND objsubid = 2 AND objid = :ns AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"ns": PRESENCE}).scalar()
    return None if value is None else int(value)


def oldest_live_start(engine: Engine) -> datetime | None:
    """When the longest-running live process on this PostgreSQL database started (None
    when none is present): whatever was recorded before it was received by a process that
    has stopped since."""
    oldest = _presence(engine, "min(classid::bigint)")
    return None if oldest is None else datetime.fromtimestamp(oldest, UTC)


def present_processes(engine: Engine) -> int:
    """How many live processes are present on this PostgreSQL database (each holds its
    presence lock while connected)."""
    return _presence(engine, "count(DISTINCT pid)") or 0


class HeldLock:
    """A session-level advisory lock held on a connection of its own, as proof that this
    process is alive: PostgreSQL frees it when the process dies. `ensure` takes it (again,
    after a lost connection), checking the connection at most every ``check`` seconds."""

    def __init__(self, engine: Engine, key: int, check: float = 5.0) -> None:
        self.engine, self.key, self.check = engine, key, check
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._lock_engine: Engine | None = None
        self._checked = 0.0

    def ensure(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._conn is not None and now - self._checked < self.check:
                return
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT 1"))
                    self._checked = now
                    return
                except Exception:
                    self._drop()
            if self._lock_engine is None:
                self._lock_engine = _lock_engine(self.engine)
            conn = self._lock_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
            self._conn, self._checked = conn, now

    def release(self) -> None:
        with self._lock:
            self._drop()
            if self._lock_engine is not None:
                self._lock_engine.dispose()
                self._lock_engine = None

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                conn.invalidate()


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name``."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def holders_gone(conn: Connection, keys: dict[str, int]) -> set[str]:
    """Of ``keys`` (name -> lock key), the names whose lock nobody holds (its process
    stopped). Each free lock is taken and released at once."""
    gone = set()
    for name, key in keys.items():
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            gone.add(name)
    return gone


# ---------------------------------------------------------------------- one run per fire time


def run_lock_key(job_id: str, fire_time: datetime) -> int:
    """A signed 64-bit advisory lock key for one scheduled run."""
    return lock_key(f"job:{job_id}@{fire_time.isoformat()}")


@contextmanager
def claim_run(engine: Engine, job_id: str, fire_time: datetime, runner: str,
              since: datetime) -> Iterator[bool]:
    """Yield True when this process should carry out the run of ``job_id`` scheduled at
    ``fire_time``, False when it has been (or is being) carried out elsewhere.

    A run is recorded in ``job_runs`` (one row per job and fire time) and marked finished
    when the body returns or raises. On PostgreSQL the claim also holds an advisory lock
    for the run on a connection of its own, so an unfinished record whose lock is free
    belongs to a process that died mid-run: the run is carried out again (jobs are
    idempotent by their own keys; the record stops a second, concurrent run). On SQLite
    (one process) an unfinished record begun before ``since``, this process's start, is
    such an orphan.
    """
    if not is_postgresql(engine):
        with engine.begin() as conn:
            ours = _claim_record(conn, job_id, fire_time, runner, since)
        try:
            yield ours
        finally:
            if ours:
                _finish_record(engine, job_id, fire_time, runner)
        return
    lock = run_lock_key(job_id, fire_time)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock}).scalar():
            yield False  # being carried out right now
            return
        try:
            # The lock is ours, so an unfinished record is an orphan, whatever its age.
            ours = _claim_record(conn, job_id, fire_time, runner, since=None)
            try:
                yield ours
            finally:
                if ours:
                    _finish_record(engine, job_id, fire_time, runner)
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock})
            except Exception:  # the connection is gone, and the lock with it
                conn.invalidate()


#: Finished runs are kept this long (a record only matters around its fire time).
KEEP_RUNS = timedelta(days=7)


def _claim_record(conn: Connection, job_id: str, fire_time: datetime, runner: str,
                  since: datetime | None) -> bool:
    now = datetime.now(UTC)
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    added = conn.execute(dialect_insert(JobRun).values(
        job_id=job_id, fire_time=fire_time, runner=runner, started_at=now)
        .on_conflict_do_nothing().returning(JobRun.job_id)).scalar()
    if added is not None:
        conn.execute(delete(JobRun).where(JobRun.job_id == job_id,
                                          JobRun.finished_at < now - KEEP_RUNS))
        return True
    row = conn.execute(select(JobRun.runner, JobRun.started_at, JobRun.finished_at)
                       .where(JobRun.job_id == job_id, JobRun.fire_time == fire_time)).one()
    if row.finished_at is not None or row.runner == runner:
        return False
    if since is not None and row.started_at >= since:
        return False  # begun by a live process (on SQLite: this one)
    taken = conn.execute(update(JobRun).where(
        JobRun.job_id == job_id, JobRun.fire_time == fire_time, JobRun.runner == row.runner,
        JobRun.finished_at.is_(None)).values(runner=runner, started_at=now))
    if taken.rowcount != 1:
        return False
    log.warning("job %s (scheduled at %s): %s stopped mid-run; running it again",
                job_id, fire_time.isoformat(), row.runner)
    return True


def _finish_record(engine: Engine, job_id: str, fire_time: datetime, runner: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(update(JobRun).where(
                JobRun.job_id == job_id, JobRun.fire_time == fire_time,
                JobRun.runner == runner).values(finished_at=datetime.now(UTC)))
    except Exception:  # the run happened; an unfinished record only means a re-run later
        log.exception("job %s: could not record the run as finished", job_id)
