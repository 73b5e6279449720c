"""The durable DM outbox against the local Slack sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.devkit.sandbox import SlackSandbox
from bot.models import OutboxMessage
from bot.services.outbox import (
    EXPIRED,
    FAILED,
    SENDING,
    SENT,
    OutboxSender,
    Outgoing,
    Throttle,
    enqueue,
    make_sender_client,
    status_counts,
)
from bot.services.workspace import ensure_workspace


class Crash(BaseException):
    """Stands for the process dying (not an Exception, so nothing catches it)."""


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    db.upgrade(database_url)
    return db.make_session_factory(db.make_engine(database_url))


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sb:
        sb.add_users([{"id": f"U{i:03d}", "name": f"p{i}", "deleted": False, "is_bot": False}
                      for i in range(40)])
        sb.add_users([{"id": "UGONE", "name": "gone", "deleted": True, "is_bot": False}])
        yield sb


def manifest_scopes() -> list[str]:
    """The bot scopes manifest.yml asks for: what the bot really has in a workspace."""
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml")
                              .read_text(encoding="utf-8"))
    return list(manifest["oauth_config"]["scopes"]["bot"])


@pytest.fixture
def scoped_sandbox() -> Iterator[SlackSandbox]:
    """A sandbox that refuses what the manifest's scopes do not allow."""
    with SlackSandbox(scopes=manifest_scopes()) as sb:
        sb.add_users([{"id": f"U{i:03d}", "name": f"p{i}", "deleted": False, "is_bot": False}
                      for i in range(5)])
        yield sb


def now() -> datetime:
    return datetime.now(UTC)


def queue(sessions: sessionmaker[Session], users: list[str], prefix: str = "m",
          **kwargs: Any) -> int:
    with db.transaction(sessions) as s:
        ws = ensure_workspace(s, "T0SANDBOX")
        return enqueue(s, ws.id, [Outgoing(f"{prefix}:{u}", u, f"hello {u}", **kwargs)
                                  for u in users], now())


def sender(sessions: sessionmaker[Session], sandbox: SlackSandbox, **kwargs: Any
           ) -> OutboxSender:
    kwargs.setdefault("per_minute", 60_000)
    kwargs.setdefault("idle_sleep", 0.02)
    return OutboxSender(sessions, make_sender_client(sandbox.token, sandbox.base_url),
                        clock=now, **kwargs)


def posted_keys(sandbox: SlackSandbox) -> Counter[str]:
    return Counter(m["metadata"]["event_payload"]["key"] for m in sandbox.messages()
                   if m.get("metadata"))


def test_enqueue_twice_with_the_same_keys_queues_once(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    assert queue(sessions, ["U001", "U002"]) == 2
    assert queue(sessions, ["U001", "U002", "U003"]) == 1
    with sessions() as s:
        assert status_counts(s) == {"pending": 3}


def test_every_message_is_delivered_once_through_429s(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    users = [f"U{i:03d}" for i in range(25)]
    queue(sessions, users)
    sandbox.rate_limit("chat.postMessage", 0.3, retry_after=1, seed=4)
    report = sender(sessions, sandbox).drain(timeout=30)
    assert report.rate_limited > 0
    assert posted_keys(sandbox) == Counter({f"m:{u}": 1 for u in users})
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert {r.status for r in rows} == {SENT}
        assert all(r.ts and r.posted_channel == sandbox.dm_channel(r.channel) for r in rows)
    assert not [c for c in sandbox.calls("chat.postMessage")
                if c.status == 429 and c.params.get("channel") not in users]


def test_crash_after_slack_accepted_is_recorded_not_resent(
        sessions: sessionmaker[Session], scoped_sandbox: SlackSandbox) -> None:
    sandbox = scoped_sandbox
    queue(sessions, ["U001", "U002", "U003"])

    def die(row: OutboxMessage, response: Any) -> None:
        if row.channel == "U002":
            raise Crash()

    with pytest.raises(Crash):
        sender(sessions, sandbox, after_post=die).drain(timeout=10)
    with sessions() as s:
        assert s.scalar(select(OutboxMessage.status).where(
            OutboxMessage.channel == "U002")) == SENDING
    restarted = sender(sessions, sandbox)
    report = restarted.drain(timeout=10)
    assert report.recovered == 1
    assert posted_keys(sandbox) == Counter({"m:U001": 1, "m:U002": 1, "m:U003": 1})
    assert sandbox.calls("conversations.history"), "the uncertain send was checked"
    with sessions() as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "U002")).one()
        assert row.status == SENT and row.ts == sandbox.messages("U002")[0]["ts"]


def test_crash_before_posting_sends_after_restart(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001"])
    first = sender(sessions, sandbox)
    assert first._claim_next() is not None  # claimed, then the process dies
    first.stop()  # ... and its liveness lock (replicas, PostgreSQL) goes with it
    assert sandbox.messages() == []
    sender(sessions, sandbox).drain(timeout=10)
    assert posted_keys(sandbox) == Counter({"m:U001": 1})


def test_permanent_errors_fail_at_once_and_transient_ones_are_retried(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["UGONE", "U001"])
    sandbox.fail("chat.postMessage", 500, times=2)
    report = sender(sessions, sandbox, backoff_base=0.05).drain(timeout=15)
    with sessions() as s:
        rows = {r.channel: r for r in s.scalars(select(OutboxMessage))}
    assert rows["UGONE"].status == FAILED and rows["UGONE"].last_error == "user_disabled"
    assert rows["U001"].status == SENT and rows["U001"].attempts >= 1
    assert report.retried >= 1
    assert posted_keys(sandbox) == Counter({"m:U001": 1})


def test_unverifiable_uncertain_send_is_posted_again_never_lost(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    # A history that can never be read here (no scope for that channel): a possible
    # duplicate beats a loss.
    queue(sessions, ["U001"])
    dead = sender(sessions, sandbox)
    dead._claim_next()
    dead.stop()  # its process dies, and its liveness lock (PostgreSQL) with it
    sandbox.fail("conversations.history", error="missing_scope", times=None)
    sender(sessions, sandbox).drain(timeout=10)
    with sessions() as s:
        row = s.scalars(select(OutboxMessage)).one()
    assert row.status == SENT
    assert posted_keys(sandbox) == Counter({"m:U001": 1})


def test_expired_messages_are_not_sent(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001"], expires_at=now() - timedelta(seconds=1))
    sender(sessions, sandbox).drain(timeout=5)
    with sessions() as s:
        assert s.scalars(select(OutboxMessage.status)).one() == EXPIRED
    assert sandbox.messages() == []


def test_throttle_never_exceeds_the_ceiling_in_any_minute() -> None:
    throttle = Throttle(per_minute=120, channel_interval=1.0)
    t, sends = 0.0, list[float]()
    while t < 180:
        wait = throttle.delay(t)
        if wait > 0:
            t += wait
            continue
        channel = f"C{len(sends) % 7}"
        if throttle.channel_delay(channel, t):
            t += throttle.channel_delay(channel, t)
            continue
        throttle.record(channel, t)
        sends.append(t)
        t += 0.01
    worst = max(sum(1 for s in sends if start <= s < start + 60) for start in sends)
    assert worst <= 120
    assert len(sends) / 3 >= 120 * 0.95


def test_throttle_waits_out_a_pause_and_spaces_posts_to_one_channel() -> None:
    throttle = Throttle(per_minute=6000, channel_interval=1.0)
    throttle.record("D1", 10.0)
    assert throttle.channel_delay("D1", 10.2) == pytest.approx(0.8)
    assert throttle.channel_delay("D2", 10.2) == 0
    throttle.pause(3, 10.0)
    assert throttle.delay(10.5) == pytest.approx(2.5)


def test_the_sender_thread_starts_and_stops(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001", "U002"])
    s = sender(sessions, sandbox)
    s.start()
    try:
        sandbox.wait_for(lambda: len(sandbox.messages()) == 2, timeout=10)
    finally:
        s.stop()
    with sessions() as session:
        assert status_counts(session) == {SENT: 2}


def test_quiet_hours_hold_a_dm_until_morning_in_the_recipients_timezone() -> None:
    from datetime import UTC, datetime

    from bot.services.outbox import after_quiet_hours

    late = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
    # 21:30 in London is quiet: wait for 08:00 London (UTC+0 in March before the change)
    assert after_quiet_hours(late, "Europe/London", "20-8") == datetime(2026, 3, 3, 8, 0,
                                                                         tzinfo=UTC)
    # 16:30 in New York: fine now
    assert after_quiet_hours(late, "America/New_York", "20-8") is None
    # 06:30 in Tokyo next day: wait until 08:00 Tokyo = 23:00 UTC
    assert after_quiet_hours(late, "Asia/Tokyo", "20-8") == datetime(2026, 3, 2, 23, 0,
                                                                      tzinfo=UTC)
    assert after_quiet_hours(late, "Europe/London", "off") is None
    assert after_quiet_hours(late, "Not/AZone", "20-8") is not None  # falls back to UTC
    # a daytime window works too
    assert after_quiet_hours(late, "UTC", "12-14") is None


# ------------------------------------------------------------------ outages (issue 10)

@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_post_slack_made_before_answering_5xx_is_recorded_not_posted_again(
        sessions: sessionmaker[Session], scoped_sandbox: SlackSandbox, status: int) -> None:
    sandbox = scoped_sandbox  # with the manifest's scopes, the history must be readable
    queue(sessions, ["U001", "U002"])
    sandbox.fail("chat.postMessage", status, after=True, times=1)
    sender(sessions, sandbox, backoff_base=0.05).drain(timeout=15)
    assert posted_keys(sandbox) == Counter({"m:U001": 1, "m:U002": 1})
    assert sandbox.calls("conversations.history"), "the unknown outcome was looked up"
    with sessions() as s:
        assert status_counts(s) == {SENT: 2}


@pytest.mark.parametrize("after", [False, True])
def test_a_200_with_an_html_body_is_retried_not_failed_for_good(
        sessions: sessionmaker[Session], sandbox: SlackSandbox, after: bool) -> None:
    # A proxy's HTML page where Slack's JSON should be: Slack may or may not have posted.
    queue(sessions, ["U001"])
    sandbox.fail("chat.postMessage", 200, html=True, after=after, times=1)
    sender(sessions, sandbox, backoff_base=0.05).drain(timeout=15)
    assert posted_keys(sandbox) == Counter({"m:U001": 1})
    with sessions() as s:
        row = s.scalars(select(OutboxMessage)).one()
    assert row.status == SENT and row.attempts == 1


def test_an_outage_longer_than_max_attempts_delays_messages_instead_of_losing_them(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    users = [f"U{i:03d}" for i in range(6)]
    queue(sessions, users)
    sandbox.fail("chat.postMessage", 500, times=None)
    s = sender(sessions, sandbox, backoff_base=0.02, backoff_cap=0.1, max_attempts=3,
               channel_interval=0.0)
    s.drain(timeout=2)
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {"pending"}, "nothing is given up during the outage"
    assert min(r.attempts for r in rows) > 3
    sandbox.clear_faults()
    s.drain(timeout=15)
    assert posted_keys(sandbox) == Counter({f"m:{u}": 1 for u in users})


def test_a_message_is_given_up_only_after_max_attempts_and_max_age(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001"])
    sandbox.fail("chat.postMessage", 500, times=None)
    sender(sessions, sandbox, backoff_base=0.01, backoff_cap=0.02, max_attempts=3,
           max_age=timedelta(seconds=0)).drain(timeout=5)
    with sessions() as s:
        row = s.scalars(select(OutboxMessage)).one()
    assert row.status == FAILED and row.last_error.startswith("gave up after 3 tries")


def test_an_unreadable_history_is_read_again_until_it_answers(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    queue(sessions, ["U001", "U002"])
    sandbox.fail("chat.postMessage", 500, after=True, times=1)  # U001 posted, 500 answered
    sandbox.fail("conversations.history", 503, times=4)
    sandbox.fail("conversations.history", 200, html=True, times=2)
    sender(sessions, sandbox, backoff_base=0.02).drain(timeout=20)
    assert posted_keys(sandbox) == Counter({"m:U001": 1, "m:U002": 1})
    assert len(sandbox.calls("conversations.history")) >= 7
    with sessions() as s:
        assert status_counts(s) == {SENT: 2}


def test_a_post_that_times_out_is_looked_up_not_posted_again(
        sessions: sessionmaker[Session], scoped_sandbox: SlackSandbox) -> None:
    sandbox = scoped_sandbox
    queue(sessions, ["U001"])
    sandbox.delay("chat.postMessage", 1.5, times=1)  # Slack posts, the client gives up
    s = OutboxSender(sessions, make_sender_client(sandbox.token, sandbox.base_url, timeout=1),
                     clock=now, per_minute=60_000, idle_sleep=0.02, backoff_base=0.05)
    s.drain(timeout=15)
    assert posted_keys(sandbox) == Counter({"m:U001": 1})
    with sessions() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.status == SENT and row.last_error == "connection: TimeoutError"


def test_nothing_is_claimed_while_the_sender_waits_for_its_slot(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    # One post a second: between two posts the sender waits, and a crash then must leave
    # no row "sending" (it would be treated as possibly posted after a restart).
    queue(sessions, ["U001", "U002", "U003"])
    s = sender(sessions, sandbox, per_minute=60)
    s.start()
    try:
        sandbox.wait_for(lambda: len(sandbox.messages()) == 1, timeout=10)
        seen = []
        for _ in range(6):
            time.sleep(0.1)
            with sessions() as session:
                seen.append(status_counts(session).get(SENDING, 0))
    finally:
        s.stop()
    assert seen == [0] * 6


def test_a_waiting_person_is_told_about_a_message_the_background_sender_is_posting(
        sessions: sessionmaker[Session], sandbox: SlackSandbox) -> None:
    # The background sender claimed the row first; the one waiting reports its real fate
    # ("sent") rather than "still queued".
    import threading

    queue(sessions, ["U001"])
    background = sender(sessions, sandbox)
    row = background._claim_next()
    assert row is not None
    posting = threading.Timer(0.3, background._post, args=(row,))
    posting.start()
    states = sender(sessions, sandbox).send_keys(["m:U001"], budget=5)
    posting.join()
    assert states["m:U001"].sent
    assert posted_keys(sandbox) == Counter({"m:U001": 1})
