"""Several processes on one PostgreSQL database: migrations once, the outbox shared by
several senders, `run --http --workers N` (and SQLite refusing more than one)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli, db
from bot.devkit.botprocess import BotProcess
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.signed_client import SignedClient
from bot.leader import present_processes
from bot.models import JobRun, OutboxMessage
from bot.services.outbox import SENDING, SENT, OutboxSender, Outgoing, enqueue, make_sender_client
from bot.services.workspace import ensure_workspace

PG = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
SECRET = "replica-secret"


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sb:
        sb.add_users([{"id": f"U{i:03d}", "name": f"p{i}", "deleted": False, "is_bot": False}
                      for i in range(200)])
        yield sb


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def sender(sessions: sessionmaker[Session], sandbox: SlackSandbox) -> OutboxSender:
    return OutboxSender(sessions, make_sender_client(sandbox.token, sandbox.base_url),
                        clock=now, per_minute=100_000, channel_interval=0.0,
                        idle_sleep=0.02)


def queue(sessions: sessionmaker[Session], users: list[str]) -> None:
    with db.transaction(sessions) as s:
        ws = ensure_workspace(s, "T0SANDBOX")
        enqueue(s, ws.id, [Outgoing(f"m:{u}", u, f"hello {u}") for u in users], now())


def posted_keys(sandbox: SlackSandbox) -> Counter[str]:
    return Counter(m["metadata"]["event_payload"]["key"] for m in sandbox.messages()
                   if m.get("metadata"))


@pytest.mark.slow
@PG
def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    code = "import sys; from bot import db; db.upgrade(sys.argv[1])"
    starts = [subprocess.Popen([sys.executable, "-c", code, database_url],
                               stderr=subprocess.PIPE, text=True) for _ in range(3)]
    failures = [err for p in starts if (err := p.communicate(timeout=120)[1]) and p.returncode]
    assert failures == []
    engine = db.make_engine(database_url)
    try:
        assert db.current_revision(engine) == db_head()
    finally:
        engine.dispose()


def db_head() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(db.alembic_config("sqlite://")).get_current_head())


@PG
def test_two_senders_drain_a_queue_together_posting_each_message_once(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    users = [f"U{i:03d}" for i in range(200)]
    queue(sessions, users)
    senders = [sender(sessions, sandbox), sender(sessions, sandbox)]
    threads = [threading.Thread(target=s.drain, kwargs={"timeout": 60}) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert posted_keys(sandbox) == Counter({f"m:{u}": 1 for u in users})
    assert sum(s.report.sent for s in senders) == 200
    assert all(s.report.sent for s in senders), "both senders took rows"
    with sessions() as s:
        assert s.scalar(select(func.count()).where(OutboxMessage.status == SENT)) == 200


@PG
def test_a_starting_sender_leaves_a_live_senders_rows_and_takes_a_dead_ones(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001"])
    live = sender(sessions, sandbox)
    assert live._claim_next() is not None  # posting right now
    starting = sender(sessions, sandbox)
    assert starting.recover(orphans_of_others=False) == 0
    with sessions() as s:
        assert s.scalar(select(OutboxMessage.status)) == SENDING
    live.stop()  # its process dies: its liveness lock goes with its connection
    assert starting.recover(orphans_of_others=False) == 1
    starting.drain(timeout=10)
    assert posted_keys(sandbox) == Counter({"m:U001": 1})


@PG
def test_a_claim_skips_a_row_being_claimed_elsewhere_and_holds_no_lock_after_it(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001", "U002"])
    first = sender(sessions, sandbox)
    with sessions() as other:  # another sender, mid-claim of the oldest row
        other.execute(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == "m:U001")
                      .with_for_update())
        started = time.monotonic()
        row = first._claim_next()
        assert row is not None and row.idempotency_key == "m:U002"  # skipped, not waited for
        assert time.monotonic() - started < 2
        other.rollback()
    # The claim was one statement: nothing of it is held, so a claim by key of the other
    # row (a waiting person's) and a second sender's claim go through at once.
    second = sender(sessions, sandbox)
    mine = second._claim_key("m:U001")
    assert mine is not None and mine.claimed_by == second.worker_id and mine.status == SENDING
    assert first._claim_next() is None and second._claim_key("m:U002") is None
    with sessions() as s:
        assert dict(s.execute(select(OutboxMessage.idempotency_key, OutboxMessage.claimed_by))
                    .all()) == {"m:U001": second.worker_id, "m:U002": first.worker_id}
    first.stop()
    second.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_refuses_several_workers_in_one_line(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert cli.main(["run", "--http", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "SQLite serves from one process" in err and "PostgreSQL" in err


@pytest.mark.slow
@PG
def test_two_http_workers_on_postgresql_serve_and_run_the_jobs_once(
        database_url: str, sandbox: SlackSandbox, tmp_path: Path) -> None:
    bot = BotProcess({"SLACK_BOT_TOKEN": sandbox.token, "SLACK_SIGNING_SECRET": SECRET,
                      "SLACK_API_URL": sandbox.base_url, "DATABASE_URL": database_url,
                      "PEERPULSE_LEADER_RETRY_SECONDS": "0.5"},
                     log_path=tmp_path / "bot.log", cwd=tmp_path, args=["--workers", "2"])
    bot.start(timeout=60)
    try:
        slack = SignedClient(bot.url, SECRET, sandbox.team_id, response_urls=sandbox)
        answers = [slack.slash_command("/kudos", "help", "U001").status for _ in range(8)]
        assert answers == [200] * 8
        engine = db.make_engine(database_url)
        try:
            # Both workers bid for leadership after they boot: wait for the startup run
            # and for each worker's presence, whichever comes last.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    runs = conn.execute(select(JobRun.job_id)).scalars().all()
                workers = present_processes(engine)
                if "roster-sync-startup" in runs and workers >= 2:
                    break
                time.sleep(0.2)
        finally:
            engine.dispose()
        assert Counter(runs)["roster-sync-startup"] == 1
        assert workers == 2, "both workers are up, each present on the database"
    finally:
        bot.stop()
    log = (tmp_path / "bot.log").read_text()
    assert "(2 workers)" in log
    assert log.count("now runs the scheduled jobs") == 1
