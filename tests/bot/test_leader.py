"""Leader election (`bot.leader`) and each scheduled run claimed once (`claim_run`,
`bot.jobs.OnceExecutor`), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from bot import db, jobs
from bot.leader import Leadership, claim_run, oldest_live_start
from bot.models import JobRun


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


def wait_for(check: object, timeout: float = 10.0) -> float:
    """Seconds until ``check()`` holds (fails the test after ``timeout``)."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - start


class Candidate:
    """A Leadership whose callbacks count terms, as the runtime's start and stop its jobs."""

    def __init__(self, engine: Engine, name: str, retry: float = 0.2) -> None:
        self.elected = self.deposed = 0
        self.leadership = Leadership(engine, on_elected=self._up, on_deposed=self._down,
                                     retry=retry, name=name)

    def _up(self) -> None:
        self.elected += 1

    def _down(self) -> None:
        self.deposed += 1

    @property
    def leading(self) -> bool:
        return self.leadership.leading


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_one_sqlite_process_always_leads(engine: Engine) -> None:
    only = Candidate(engine, "only")
    only.leadership.start()
    assert only.leading and only.elected == 1  # at once, in the caller's thread
    only.leadership.stop()
    assert not only.leading and only.deposed == 1


def _lock_holder_pid(engine: Engine) -> int:
    key = db.LEADER_LOCK
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
            "AND classid::bigint = :hi AND objid::bigint = :lo AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).scalar_one())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_leaders_cannot_coexist_and_the_standby_takes_over(engine: Engine) -> None:
    a, b, c = Candidate(engine, "a"), Candidate(engine, "b"), Candidate(engine, "c")
    try:
        a.leadership.start()
        wait_for(lambda: a.leading)
        b.leadership.start()
        time.sleep(0.6)  # three of b's tries
        assert a.leading and not b.leading and b.elected == 0

        # The leader's process ends: its connection closes and PostgreSQL frees the lock.
        a.leadership.stop()
        took = wait_for(lambda: b.leading)
        assert took < 2 and not a.leading and a.deposed == 1 and b.elected == 1

        # PostgreSQL drops the leader's connection (as a restart does): it steps down at
        # once and contends again; one of them leads, never both.
        c.leadership.start()
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"),
                         {"pid": _lock_holder_pid(engine)})
        wait_for(lambda: b.deposed == 1)
        wait_for(lambda: b.leading or c.leading)
        for _ in range(10):
            assert not (b.leading and c.leading)
            time.sleep(0.05)
        print(f"\ntakeover after the leader stopped: {took:.2f} s (retry every 0.2 s)")
    finally:
        for candidate in (a, b, c):
            candidate.leadership.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_oldest_live_process_start_is_known(engine: Engine) -> None:
    a = Candidate(engine, "a")
    try:
        a.leadership.start()
        wait_for(lambda: a.leading)
        assert oldest_live_start(engine) == datetime.fromtimestamp(a.leadership.started, UTC)
    finally:
        a.leadership.stop()
    assert oldest_live_start(engine) is None


def test_two_schedulers_firing_the_same_run_run_it_once(engine: Engine) -> None:
    ran: list[str] = []
    lock = threading.Lock()
    fire = datetime.now(UTC) + timedelta(seconds=0.5)
    since = datetime.now(UTC)

    def job(who: str) -> None:
        with lock:
            ran.append(who)
        time.sleep(0.3)  # still running when the other scheduler fires

    schedulers = []
    for who in ("a", "b", "c"):
        sched = BackgroundScheduler(timezone="UTC", executors={
            "default": jobs.OnceExecutor(engine, who, since)})
        sched.add_job(job, "date", run_date=fire, args=[who], id="roster-sync-daily")
        schedulers.append(sched)
    for sched in schedulers:
        sched.start()
    wait_for(lambda: all(not s.get_jobs() for s in schedulers))
    time.sleep(0.5)
    for sched in schedulers:
        sched.shutdown(wait=True)
    assert len(ran) == 1
    with engine.connect() as conn:
        rows = conn.execute(select(JobRun.job_id, JobRun.runner, JobRun.finished_at)).all()
    assert [(r.job_id, r.runner) for r in rows] == [("roster-sync-daily", ran[0])]
    assert rows[0].finished_at is not None


def test_a_run_whose_process_died_mid_run_is_run_again_once(engine: Engine) -> None:
    fire = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    started = datetime.now(UTC) - timedelta(seconds=10)
    with engine.begin() as conn:  # begun by a process that died (no lock, not finished)
        conn.execute(insert(JobRun).values(job_id="poll-helped", fire_time=fire,
                                           runner="dead", started_at=started))
    later = started + timedelta(seconds=5)  # the survivor started after it
    with claim_run(engine, "poll-helped", fire, "survivor", later) as ours:
        assert ours
        with claim_run(engine, "poll-helped", fire, "third", later) as again:
            assert not again  # being run by the survivor right now
    with claim_run(engine, "poll-helped", fire, "third", later) as again:
        assert not again  # finished
    with engine.connect() as conn:
        row = conn.execute(select(JobRun.runner, JobRun.finished_at)).one()
    assert row.runner == "survivor" and row.finished_at is not None
