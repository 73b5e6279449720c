"""The durable outbox: every message and file the bot sends is a database row first, then a
Slack call (`bot.services.delivery` is the one way in).

`enqueue` writes rows (one per idempotency key, never two); `OutboxSender` claims due rows,
posts them at a throttled pace and records the message ts: in the background for
everything, and at once (`OutboxSender.send_keys`) for a reply someone is waiting for.
Why it neither loses nor duplicates a message across a crash:

- The sender waits for its throttle slot first and only then claims a row (``pending`` ->
  ``sending``, a conditional UPDATE that only one sender can win, committed), right before
  calling Slack: a row left ``sending`` by a crash is one Slack may really have been asked
  to post, not one that was merely waiting its turn.
- ``sent`` and the ts are written in one transaction right after Slack answers.
- The gap between Slack accepting a post and that commit cannot be closed by a database, so
  every post carries its idempotency key in the message metadata. A row found ``sending``
  after a crash, or whose post failed in a way that leaves Slack's outcome unknown (lost
  connection, timeout, 5xx, an answer that is not JSON, ``internal_error``), is marked
  ``uncertain``; before posting an uncertain row again the sender reads the DM's recent
  history (`conversations.history`, scope ``im:history``) and, if the key is there, records
  that message instead of posting. While the history cannot be read for the moment (an
  outage) it tries again later; where it can never be read (a channel post: the bot has no
  ``channels:history``) it posts again, so such a message may show twice but is never lost.
- A file upload (``files_upload_v2``) cannot carry metadata: an uncertain upload is
  uploaded again, so it may arrive twice, never not at all.
- Transient failures (outages, rate limits) are retried with backoff (capped at
  ``backoff_cap``) until the message expires (a poll DM when its poll closes); one without
  an expiry is given up only after ``max_attempts`` tries *and* ``max_age`` (24 h), so an
  outage delays messages instead of losing them.

The sender's Slack client must not carry slack_sdk's RateLimitErrorRetryHandler (it would
sleep inside the call); `make_sender_client` builds one without retry handlers, and the
sender reads Retry-After itself and reschedules.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import parse_quiet_hours
from bot.db import on_postgresql, transaction
from bot.leader import HeldLock, holders_gone, lock_key
from bot.models import OutboxMessage

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, EXPIRED = "pending", "sending", "sent", "failed", "expired"
FINAL = frozenset((SENT, FAILED, EXPIRED))
METADATA_EVENT = "peerpulse_outbox"
# Slack errors worth another try later; anything else is the message's own fault.
TRANSIENT_ERRORS = frozenset({
    "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
    "team_added_to_org", "timeout",
})
# Errors after which Slack may or may not have posted the message.
AMBIGUOUS_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout", "timeout"})
# The recipient cannot receive DMs at all.
UNREACHABLE_ERRORS = frozenset({
    "user_disabled", "user_not_found", "channel_not_found", "cannot_dm_bot", "is_archived",
    "account_inactive",
})
CONSECUTIVE_429_PAUSE = 3
# slack_sdk's error for an answer that is not JSON (an HTML error page from a proxy, or
# Slack's edge): Slack may or may not have acted on the request.
NOT_JSON = "Received a response in a non-JSON format"
# A lost connection or timeout, wherever in the HTTP exchange it happens.
CONNECTION_ERRORS = (OSError, TimeoutError, HTTPException)


@dataclass(frozen=True)
class Outgoing:
    """One message to queue. ``channel`` is a user id for a DM (``dm=True``) or a channel id.

    With ``files`` (paths on this server) the message is a file upload and ``text`` its
    comment.
    """

    key: str
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    dm: bool = True
    poll_request_id: int | None = None
    expires_at: datetime | None = None
    not_before: datetime | None = None
    files: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "blocks": self.blocks, "dm": self.dm}
        if self.files:
            body["files"] = list(self.files)
        return body


def after_quiet_hours(now: datetime, tz: str | None, quiet: str) -> datetime | None:
    """When a DM queued at ``now`` may go out to someone in ``tz`` (None: right away).

    ``quiet`` is the owners' setting, e.g. ``"20-8"``: nobody is messaged between 20:00 and
    08:00 in their own timezone (UTC when Slack gives none).

    >>> from datetime import UTC, datetime
    >>> late = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)
    >>> after_quiet_hours(late, "Europe/London", "20-8")
    datetime.datetime(2026, 1, 6, 8, 0, tzinfo=datetime.timezone.utc)
    >>> after_quiet_hours(late, "America/New_York", "20-8") is None
    True
    """
    hours = parse_quiet_hours(quiet)
    if hours is None:
        return None
    try:
        zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    start, end = hours
    inside = (start <= local.hour or local.hour < end) if start > end else \
        (start <= local.hour < end)
    if not inside:
        return None
    resume = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if resume <= local:
        resume += timedelta(days=1)
    return resume.astimezone(UTC)


def enqueue(session: Session, workspace_id: int, messages: Iterable[Outgoing], now: datetime
            ) -> int:
    """Queue ``messages``, skipping any whose key is already queued. Returns how many were new.

    One multi-row INSERT, so a round for 10k people is queued in well under a second. On
    SQLite and PostgreSQL it does nothing for a key already queued (ON CONFLICT), so no
    statement reads the keys first; elsewhere they are read first.
    """
    batch = list({m.key: m for m in messages}.values())
    if not batch:
        return 0
    keys = [m.key for m in batch]
    existing: set[str] = set()
    skip = _ENQUEUE.get(session.get_bind().dialect.name)
    for start in range(0, len(keys), 500) if skip is None else ():
        chunk = keys[start:start + 500]
        existing.update(session.scalars(_QUEUED, {"keys": chunk}))
    rows = [
        {
            "workspace_id": workspace_id,
            "idempotency_key": m.key,
            "channel": m.channel,
            "payload": m.payload(),
            "poll_request_id": m.poll_request_id,
            "status": PENDING,
            "attempts": 0,
            "uncertain": False,
            "next_attempt_at": m.not_before or now,
            "expires_at": m.expires_at,
            "created_at": now,
        }
        for m in batch if m.key not in existing
    ]
    if skip is not None:
        return len(session.execute(skip, rows).all())
    if rows:
        session.execute(insert(_OUTBOX), rows)
    return len(rows)


def status_counts(session: Session, workspace_id: int | None = None) -> dict[str, int]:
    q = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if workspace_id is not None:
        q = q.where(OutboxMessage.workspace_id == workspace_id)
    return {str(s): int(n) for s, n in session.execute(q)}


def make_sender_client(token: str | None, base_url: str, timeout: int = 30) -> WebClient:
    """A WebClient with no retry handlers: the sender decides about every retry itself
    (a silent connection retry could post a message twice)."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


class Throttle:
    """Paces sends: evenly spaced under ``per_minute``, never more than ``per_minute`` in
    any 60-second window, at most one post per ``channel_interval`` per channel, and
    nothing at all while paused (after Retry-After)."""

    def __init__(self, per_minute: int, channel_interval: float = 1.0) -> None:
        # The background thread and request threads (`OutboxSender.send_keys`) share it.
        self._lock = threading.RLock()
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute
        self.channel_interval = channel_interval
        self._window: deque[float] = deque()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._channel_last: dict[str, float] = {}

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send may start."""
        with self._lock:
            return self._delay(now)

    def _delay(self, now: float) -> float:
        while self._window and self._window[0] <= now - 60.0:
            self._window.popleft()
        wait = max(self._next_slot - now, self._paused_until - now, 0.0)
        if len(self._window) >= self.per_minute:
            wait = max(wait, self._window[0] + 60.0 - now)
        return wait

    def channel_delay(self, channel: str, now: float) -> float:
        with self._lock:
            last = self._channel_last.get(channel)
        return 0.0 if last is None else max(0.0, last + self.channel_interval - now)

    def record(self, channel: str, now: float) -> None:
        with self._lock:
            self._record(channel, now)

    def _record(self, channel: str, now: float) -> None:
        self._window.append(now)
        # No catch-up after a slow call: a late send pushes the next one back, so two
        # sends are never closer than the interval (the rate may only fall short).
        self._next_slot = max(self._next_slot, now) + self.interval
        self._channel_last[channel] = now
        if len(self._channel_last) > 10_000:
            cutoff = now - self.channel_interval
            self._channel_last = {c: t for c, t in self._channel_last.items() if t > cutoff}

    def pause_left(self, now: float) -> float:
        with self._lock:
            return max(0.0, self._paused_until - now)

    def pause(self, seconds: float, now: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, now + seconds)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    recovered: int = 0
    rate_limited: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class OutboxSender:
    """The background sender. The runtime starts one per process: on SQLite there is one
    process, on PostgreSQL replicas' senders claim rows with ``FOR UPDATE SKIP LOCKED``.
    The throttle is per sender, so ``per_minute`` is per process.

    Parameters
    ----------
    sessions, client, clock:
        Database sessions, a Slack client without retry handlers, the UTC clock.
    per_minute:
        Workspace-wide ceiling on `chat.postMessage` calls per minute.
    channel_interval:
        Seconds between two posts to the same channel (Slack allows about one a second).
    max_attempts:
        Transient failures tolerated per message before it is marked failed.
    lease:
        A row left ``sending`` longer than this by another sender is taken back.
    max_age:
        A message without an expiry is retried at least this long before it is given up.
    after_post:
        Test hook called after Slack accepted a post and before it is recorded.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: WebClient,
        *,
        clock: Callable[[], datetime],
        per_minute: int = 300,
        channel_interval: float = 1.0,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_cap: float = 900.0,
        lease: timedelta = timedelta(minutes=2),
        max_age: timedelta = timedelta(hours=24),
        idle_sleep: float = 0.5,
        batch: int = 50,
        worker_id: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        after_post: Callable[[OutboxMessage, Mapping[str, Any]], None] | None = None,
        clients: Callable[[int], WebClient | None] | None = None,
    ) -> None:
        self.sessions, self.client, self.clock = sessions, client, clock
        # Installs through OAuth: each row is sent with its tenant's token (None: the
        # tenant is uninstalled, and its rows are not sent).
        self.clients = clients
        self.throttle = Throttle(per_minute, channel_interval)
        self.max_attempts, self.backoff_base, self.backoff_cap = (
            max_attempts, backoff_base, backoff_cap)
        self.lease, self.idle_sleep, self.batch = lease, idle_sleep, batch
        self.max_age = max_age
        self.worker_id = worker_id or f"sender-{uuid.uuid4().hex[:12]}"
        self._named, self._pid = worker_id is not None, os.getpid()
        self.monotonic = monotonic
        self.after_post = after_post
        self.report = SendReport()
        self._consecutive_429 = 0
        # The row this thread finished last and how (`send_keys` stops reading on a final).
        self._finished = threading.local()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Several senders may share a PostgreSQL database (replicas); SQLite has one.
        bind = sessions.kw.get("bind")
        self._shared = on_postgresql(sessions)
        self._engine = bind if isinstance(bind, Engine) else None  # for `_statement`
        self._alive: HeldLock | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> threading.Thread:
        """Recover rows orphaned by a previous process, then send in a daemon thread."""
        if self._thread is not None:
            return self._thread
        self._stop.clear()
        if not self._named and self._pid != os.getpid():  # forked (a gunicorn worker)
            self.worker_id, self._pid = f"sender-{uuid.uuid4().hex[:12]}", os.getpid()
        self.recover(orphans_of_others=not self._shared)
        self._thread = threading.Thread(target=self.run, name="peerpulse-outbox", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._release_liveness()

    def _hold_liveness(self) -> None:
        """Replicas: hold an advisory lock named after this sender before claiming rows,
        so others can tell its rows from those of a sender that died (`recover`)."""
        if not self._shared:
            return
        if self._alive is None:
            self._alive = HeldLock(self.sessions.kw["bind"], _sender_lock(self.worker_id))
        self._alive.ensure()

    def _release_liveness(self) -> None:
        alive, self._alive = self._alive, None
        if alive is not None:
            alive.release()

    def run(self) -> None:
        last_recover = self.monotonic()
        while not self._stop.is_set():
            try:
                if self.monotonic() - last_recover > self.lease.total_seconds() / 2:
                    self.recover(orphans_of_others=False)
                    last_recover = self.monotonic()
                if not self.step():
                    self._stop.wait(self.idle_sleep)
            except Exception:  # the sender must outlive a database or network hiccup
                log.exception("outbox sender step failed; retrying shortly")
                self._stop.wait(max(self.idle_sleep, 1.0))

    def drain(self, timeout: float = 60.0) -> SendReport:
        """Send until nothing is due (or ``timeout``): for the CLI, the bench and tests."""
        self.recover(orphans_of_others=not self._shared)
        deadline = self.monotonic() + timeout
        try:
            while self.monotonic() < deadline:
                if self.step():
                    continue
                with self.sessions() as session:
                    left = session.scalar(select(func.count()).select_from(OutboxMessage)
                                          .where(OutboxMessage.status.in_((PENDING, SENDING))))
                if not left:
                    break
                time.sleep(min(0.05, self.idle_sleep))
        finally:
            if self._thread is None:  # nothing of this sender runs on: its claims are free
                self._release_liveness()
        return self.report

    # ------------------------------------------------------------------ recovery

    def recover(self, *, orphans_of_others: bool) -> int:
        """Put rows stuck in ``sending`` back as ``pending`` + ``uncertain``.

        ``orphans_of_others``: every row another sender claimed is an orphan, true at
        start-up with one process per database (SQLite). Otherwise only rows claimed
        longer ago than the lease, and with replicas (PostgreSQL) the rows of senders that
        no longer hold their liveness lock (`_hold_liveness`): a replica that dies hands
        its rows on at the next recovery (start-up, or every half lease), and live ones
        keep theirs.
        """
        now = self.clock()
        stuck = OutboxMessage.status == SENDING
        if orphans_of_others:
            cond = stuck & (OutboxMessage.claimed_by != self.worker_id)
        else:
            cond = stuck & (OutboxMessage.claimed_at < now - self.lease)
        if self._shared:
            # Replicas: also the rows of senders whose liveness lock is free (they died).
            with self.sessions() as session:
                claimers = set(session.scalars(
                    select(OutboxMessage.claimed_by).distinct()
                    .where(stuck, OutboxMessage.claimed_by != self.worker_id)))
                gone = holders_gone(session.connection(),
                                    {c: _sender_lock(c) for c in claimers if c}) \
                    if claimers else set()
            if gone:
                cond = cond | (stuck & OutboxMessage.claimed_by.in_(sorted(gone)))
        with transaction(self.sessions) as session:
            result = session.execute(
                update(OutboxMessage).where(cond).values(
                    status=PENDING, uncertain=True, claimed_by=None, next_attempt_at=now))
            count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("outbox: %d message(s) left mid-send by a stopped sender will be "
                        "checked against Slack before any resend", count)
            self.report.recovered += count
        return count

    # ------------------------------------------------------------------ one message

    def step(self) -> bool:
        """Send (or settle) at most one due message. False when there was nothing to do."""
        # Wait for the slot, then claim: a claimed row is posted at once (see the module
        # docstring), and the claim's own database work only ever slows the pace down.
        wait = self.throttle.delay(self.monotonic())
        if wait > 0 and self._stop.wait(wait):
            return False
        row = self._claim_next()
        if row is None:
            return False
        self._send_claimed(row)
        return True

    def _send_claimed(self, row: OutboxMessage) -> None:
        """Post a claimed row now (its slot was waited for before the claim)."""
        if row.expires_at is not None and self.clock() >= row.expires_at:
            self._finish(row, status=EXPIRED, error="expired before it could be sent")
            self.report.expired += 1
            return
        if row.uncertain and self._settle_uncertain(row):
            return
        self._post(row)

    def send_keys(self, keys: Iterable[str], budget: float = 10.0) -> dict[str, Delivered]:
        """Send the rows with these keys now, in the caller's thread, in key order.

        For a reply someone is waiting for (a kudos DM, a snapshot). A retry that falls due
        within ``budget`` seconds is made here; anything still unsent after that stays
        queued for the background sender, so nothing is lost.

        Someone waits, so a message takes the next free moment for its channel instead of
        the next evenly spaced slot (it still counts toward the ceiling and waits out a
        Retry-After pause); as in `step`, it is claimed only once that moment has come.
        """
        keys = list(dict.fromkeys(keys))
        deadline = self.monotonic() + budget
        states = self._states(keys)  # one read for all; each is read again after a wait
        known: dict[str, Delivered] = {}  # finished for good here: not read again
        for key in keys:
            state = states.get(key)
            while self.monotonic() < deadline:
                if state is not None and state.status == SENDING:
                    self._stop.wait(0.05)  # the background sender is posting it right now
                    state = self._state(key)
                    continue
                if state is None or state.status != PENDING:
                    break
                now = self.monotonic()
                due = max((state.next_attempt_at - self.clock()).total_seconds(),
                          self.throttle.pause_left(now),
                          self.throttle.channel_delay(state.channel, now))
                if due > deadline - now:
                    break
                if due > 0:
                    if self._stop.wait(due):
                        break
                    state = self._state(key)
                    continue
                row = self._claim_key(key)
                if row is not None:
                    self._finished.row_id = None
                    self._send_claimed(row)
                    if self._finished.row_id == row.id and self._finished.status in FINAL:
                        if self._finished.outcome is not None:
                            known[key] = self._finished.outcome
                        break  # sent, or failed for good: nothing to read again
                state = self._state(key)
        unknown = [key for key in keys if key not in known]
        return {**known, **self.delivered(unknown)} if unknown else known

    def delivered(self, keys: Iterable[str]) -> dict[str, Delivered]:
        """Where each message stands: sent (with its ts), still queued, or failed."""
        with self._statement() as conn:
            rows = conn.execute(_DELIVERED, {"keys": list(keys)}).all()
        return {k: Delivered(k, s, ts, err) for k, s, ts, err in rows}

    def _state(self, key: str) -> _Due | None:
        return self._states([key]).get(key)

    def _states(self, keys: list[str]) -> dict[str, _Due]:
        """Where each row stands, as `send_keys` needs it (plain columns, one query)."""
        with self._statement() as conn:
            rows = conn.execute(_DUE, {"keys": keys}).all()
        return {key: _Due(status, next_attempt_at, channel)
                for key, status, next_attempt_at, channel in rows}

    @contextmanager
    def _statement(self) -> Iterator[Connection]:
        """A connection for one statement that is atomic by itself (a claim, a finish, a
        read of where rows stand). On PostgreSQL it runs in autocommit: one round trip
        instead of BEGIN, the statement and COMMIT (or ROLLBACK after a read)."""
        assert self._engine is not None, "the sessions must be bound to an engine"
        with self._engine.connect() as conn:
            if self._shared:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                yield conn
                conn.commit()

    def _claim_key(self, key: str) -> OutboxMessage | None:
        """Claim the row with this key if it is due, in one UPDATE .. RETURNING."""
        self._hold_liveness()
        with self._statement() as conn:
            found = conn.execute(_CLAIM_KEY, {"key": key, "now": self.clock(),
                                              "worker": self.worker_id}).first()
        return None if found is None else _detached(found)

    def _claim_next(self) -> OutboxMessage | None:
        self._hold_liveness()
        now = self.clock()
        mono = self.monotonic()
        with self._statement() as conn:
            candidates = conn.execute(_CANDIDATES, {"now": now, "batch": self.batch}).all()
        free = [row_id for row_id, channel in candidates
                if self.throttle.channel_delay(channel, mono) <= 0]
        if not free:
            return None
        claim = {"now": now, "worker": self.worker_id}
        if self._shared:
            # Replicas: the first free candidate no other sender is claiming right now
            # (FOR UPDATE SKIP LOCKED), claimed in the same statement: senders never wait
            # for, or fight over, a row, and no row stays locked beyond that statement.
            with self._statement() as conn:
                found = conn.execute(_CLAIM_FIRST, {**claim, "ids": free}).first()
            return None if found is None else _detached(found)
        for row_id in free:
            with self._statement() as conn:
                found = conn.execute(_CLAIM_ID, {**claim, "row_id": row_id}).first()
            if found is not None:
                return _detached(found)  # else another sender won it
        return None

    def _client(self, row: OutboxMessage) -> WebClient:
        """The Slack client of the row's tenant (`Uninstalled` when it has none)."""
        if self.clients is None:
            return self.client
        client = self.clients(row.workspace_id)
        if client is None:
            raise Uninstalled("the app is no longer installed in this workspace")
        return client

    def _post(self, row: OutboxMessage) -> None:
        payload = row.payload or {}
        now = self.monotonic()
        self.throttle.record(row.channel, now)
        try:
            if payload.get("files"):
                resp = self._upload(row, payload)
            else:
                resp = self._client(row).chat_postMessage(
                    channel=row.channel,
                    text=payload.get("text") or "",
                    blocks=payload.get("blocks") or None,
                    metadata={"event_type": METADATA_EVENT,
                              "event_payload": {"key": row.idempotency_key}},
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except (MissingFile, Uninstalled) as exc:
            self._finish(row, status=FAILED, error=str(exc))
            self.report.failed += 1
            return
        except SlackApiError as exc:
            self._slack_failure(row, exc)
            return
        except CONNECTION_ERRORS as exc:  # lost connection or timeout: Slack may have posted
            self._retry(row, f"connection: {type(exc).__name__}", uncertain=True)
            return
        self._consecutive_429 = 0
        if self.after_post is not None:
            self.after_post(row, resp.data if isinstance(resp.data, dict) else {})
        self._finish(row, status=SENT, ts=str(resp.get("ts") or ""),
                     channel=str(resp.get("channel") or row.channel))
        self.report.sent += 1

    def _upload(self, row: OutboxMessage, payload: Mapping[str, Any]) -> Any:
        """Upload a row's files (files_upload_v2) with its text as the comment."""
        paths = [Path(p) for p in payload["files"]]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise MissingFile(f"file gone before it could be sent: {', '.join(missing)}")
        client = self._client(row)
        channel = row.posted_channel or row.channel
        if payload.get("dm", True) and not row.posted_channel:
            opened = client.conversations_open(users=row.channel)
            channel = str((opened.get("channel") or {}).get("id") or row.channel)
        resp = client.files_upload_v2(
            channel=channel, initial_comment=payload.get("text") or "",
            file_uploads=[{"file": str(p), "filename": p.name, "title": p.name}
                          for p in paths])
        return _Posted(channel, resp)

    def _slack_failure(self, row: OutboxMessage, exc: SlackApiError) -> None:
        status, error = _failure(exc)
        self.report.errors[error] = self.report.errors.get(error, 0) + 1
        if status == 429 or error == "ratelimited":
            retry_after = _retry_after(exc.response.headers)
            self.report.rate_limited += 1
            self._consecutive_429 += 1
            # One 429 defers that message; a run of them means the workspace ceiling is
            # hit, so the whole sender waits Retry-After.
            if self._consecutive_429 >= CONSECUTIVE_429_PAUSE:
                self.throttle.pause(retry_after, self.monotonic())
            self._reschedule(row, delay=retry_after, error="ratelimited", count_attempt=False)
            return
        self._consecutive_429 = 0
        if _unknown_outcome(status, error):
            self._retry(row, error, uncertain=True)
            return
        if error in TRANSIENT_ERRORS:
            self._retry(row, error, uncertain=False)
            return
        log.warning("outbox: %s to %s failed for good: %s", row.idempotency_key, row.channel,
                    error)
        self._finish(row, status=FAILED, error=error)
        self.report.failed += 1

    def _retry(self, row: OutboxMessage, error: str, *, uncertain: bool) -> None:
        attempts = row.attempts + 1
        if attempts >= self.max_attempts and self.clock() >= row.created_at + self.max_age:
            self._finish(row, status=FAILED, error=f"gave up after {attempts} tries: {error}",
                         attempts=attempts, uncertain=uncertain or row.uncertain)
            self.report.failed += 1
            return
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        self._reschedule(row, delay=delay, error=error, count_attempt=True,
                         uncertain=uncertain or row.uncertain)
        self.report.retried += 1

    def _reschedule(self, row: OutboxMessage, *, delay: float, error: str, count_attempt: bool,
                    uncertain: bool | None = None) -> None:
        values: dict[str, Any] = {
            "status": PENDING, "claimed_by": None, "last_error": error[:255],
            "next_attempt_at": self.clock() + timedelta(seconds=delay),
        }
        if count_attempt:
            values["attempts"] = row.attempts + 1
        if uncertain is not None:
            values["uncertain"] = uncertain
        with self._statement() as conn:
            conn.execute(*_update_own(row.id, self.worker_id, values))

    def _finish(self, row: OutboxMessage, *, status: str, ts: str | None = None,
                channel: str | None = None, error: str | None = None,
                attempts: int | None = None, uncertain: bool | None = None) -> None:
        self._finished.row_id, self._finished.status = row.id, status
        self._finished.outcome = None
        values: dict[str, Any] = {"status": status, "claimed_by": None}
        if status == SENT:
            values.update(ts=ts, posted_channel=channel, sent_at=self.clock(), uncertain=False)
        if error is not None:
            values["last_error"] = error[:255]
        if attempts is not None:
            values["attempts"] = attempts
        if uncertain is not None:
            values["uncertain"] = uncertain
        with self._statement() as conn:
            done = conn.execute(*_update_own(row.id, self.worker_id, values))
        if done.rowcount == 1:  # still ours: what the row now holds, for `send_keys`
            self._finished.outcome = Delivered(
                row.idempotency_key, status, ts if status == SENT else row.ts,
                row.last_error if error is None else error[:255])

    def _settle_uncertain(self, row: OutboxMessage) -> bool:
        """Look for an uncertain row's message in Slack's history before it is posted again.

        True when that settled the row: found (recorded as sent), nobody to deliver to, or
        the history cannot be read for the moment (looked up again later: uncertainty is
        never turned into a loss). False: post it, because it is not there, or because the
        history can never be read here (no scope for a channel, a file upload): a possible
        duplicate rather than a loss.
        """
        if (row.payload or {}).get("files"):
            return False  # uploads carry no metadata to look for
        try:
            found = self._find_posted(row)
        except SlackApiError as exc:
            status, error = _failure(exc)
            if status == 429 or error == "ratelimited":
                self._reschedule(row, delay=_retry_after(exc.response.headers),
                                 error=f"history: {error}", count_attempt=False)
                return True
            if _unknown_outcome(status, error) or error in TRANSIENT_ERRORS:
                self._retry(row, f"history: {error}", uncertain=True)
                return True
            if error in UNREACHABLE_ERRORS:  # nobody to deliver to, so nothing was posted
                self._finish(row, status=FAILED, error=error)
                self.report.failed += 1
                return True
            log.warning("outbox: cannot read the history of %s to check %s (%s); posting "
                        "it again: it may show twice, but it is not lost", row.channel,
                        row.idempotency_key, error)
            return False
        except Uninstalled as exc:
            self._finish(row, status=FAILED, error=str(exc))
            self.report.failed += 1
            return True
        except CONNECTION_ERRORS as exc:
            self._retry(row, f"history: {type(exc).__name__}", uncertain=True)
            return True
        if found is None:
            return False
        ts, channel = found
        log.info("outbox: %s was already posted (ts %s); recorded, not resent",
                 row.idempotency_key, ts)
        self._finish(row, status=SENT, ts=ts, channel=channel)
        self.report.sent += 1
        return True

    def _find_posted(self, row: OutboxMessage) -> tuple[str, str] | None:
        client = self._client(row)
        channel = row.posted_channel or row.channel
        if (row.payload or {}).get("dm", True) and not row.posted_channel:
            opened = client.conversations_open(users=row.channel)
            channel = str((opened.get("channel") or {}).get("id") or row.channel)
        oldest = row.created_at - timedelta(minutes=1)
        cursor: str | None = None
        for _ in range(5):
            kwargs: dict[str, Any] = {"channel": channel, "limit": 200,
                                      "include_all_metadata": True,
                                      "oldest": f"{oldest.timestamp():.6f}"}
            if cursor:
                kwargs["cursor"] = cursor
            page = client.conversations_history(**kwargs)
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                if (meta.get("event_type") == METADATA_EVENT and
                        (meta.get("event_payload") or {}).get("key") == row.idempotency_key):
                    return str(message.get("ts")), channel
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None


class Uninstalled(Exception):
    """The row's tenant has uninstalled the app (or its token was revoked)."""


class MissingFile(Exception):
    """A queued upload whose file is no longer on disk: it can never be sent."""


@dataclass(frozen=True)
class _Posted:
    """A finished upload, answering like a chat.postMessage response."""

    channel: str
    response: Any

    @property
    def data(self) -> dict[str, Any]:
        data = getattr(self.response, "data", None)
        return data if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        if key == "channel":
            return self.channel
        if key == "ts":
            files = self.data.get("files") or [{}]
            return (files[0] or {}).get("id") or default
        return self.data.get(key, default)


@dataclass(frozen=True)
class _Due:
    """What `send_keys` reads of a row before claiming it."""

    status: str
    next_attempt_at: datetime
    channel: str


_OUTBOX: Any = OutboxMessage.__table__
_DUE = select(_OUTBOX.c.idempotency_key, _OUTBOX.c.status, _OUTBOX.c.next_attempt_at,
              _OUTBOX.c.channel).where(
    _OUTBOX.c.idempotency_key.in_(bindparam("keys", expanding=True)))

_CANDIDATES = (select(_OUTBOX.c.id, _OUTBOX.c.channel)
               .where(_OUTBOX.c.status == PENDING, _OUTBOX.c.next_attempt_at <= bindparam("now"))
               .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id).limit(bindparam("batch")))
_CLAIMED = {"status": SENDING, "claimed_by": bindparam("worker"), "claimed_at": bindparam("now")}
_CLAIM_KEY = (update(_OUTBOX).where(_OUTBOX.c.idempotency_key == bindparam("key"),
                                    _OUTBOX.c.status == PENDING,
                                    _OUTBOX.c.next_attempt_at <= bindparam("now"))
              .values(_CLAIMED).returning(*_OUTBOX.c))
_CLAIM_ID = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.status == PENDING)
             .values(_CLAIMED).returning(*_OUTBOX.c))
_CLAIM_FIRST = (update(_OUTBOX).where(_OUTBOX.c.id == (
    select(_OUTBOX.c.id).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)),
                               _OUTBOX.c.status == PENDING)
    .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id).limit(1)
    .with_for_update(skip_locked=True).scalar_subquery()))
    .values(_CLAIMED).returning(*_OUTBOX.c))


# `_update_own`'s statements, one per set of columns written (there are a handful).
_UPDATES_OWN: dict[tuple[str, ...], Any] = {}


def _update_own(row_id: int, worker_id: str, values: dict[str, Any]
                ) -> tuple[Any, dict[str, Any]]:
    """The UPDATE of a row this sender still holds (else it changes nothing), and its
    parameters: built once per set of columns, not once per message."""
    columns = tuple(sorted(values))
    statement = _UPDATES_OWN.get(columns)
    if statement is None:
        statement = _UPDATES_OWN[columns] = update(_OUTBOX).where(
            _OUTBOX.c.id == bindparam("own_id"), _OUTBOX.c.claimed_by == bindparam("own_by")
        ).values({c: bindparam(f"set_{c}") for c in columns})
    return statement, {"own_id": row_id, "own_by": worker_id,
                       **{f"set_{c}": v for c, v in values.items()}}


def _detached(found: Any) -> OutboxMessage:
    """A claimed row as the sender reads it (no session: every column is loaded)."""
    return OutboxMessage(**found._mapping)


_ENQUEUE = {name: insert_(_OUTBOX).on_conflict_do_nothing(index_elements=[
    _OUTBOX.c.idempotency_key]).returning(_OUTBOX.c.id)
    for name, insert_ in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}
_QUEUED = select(_OUTBOX.c.idempotency_key).where(
    _OUTBOX.c.idempotency_key.in_(bindparam("keys", expanding=True)))
_DELIVERED = select(_OUTBOX.c.idempotency_key, _OUTBOX.c.status, _OUTBOX.c.ts,
                    _OUTBOX.c.last_error).where(
    _OUTBOX.c.idempotency_key.in_(bindparam("keys", expanding=True)))


@dataclass(frozen=True)
class Delivered:
    """Where one queued message stands."""

    key: str
    status: str
    ts: str | None = None
    error: str | None = None

    @property
    def sent(self) -> bool:
        return self.status == SENT


def _failure(exc: SlackApiError) -> tuple[int, str]:
    """The HTTP status and Slack's error name of a failed call (``not_json`` when the answer
    was not JSON, e.g. an HTML error page)."""
    response = exc.response
    status = int(getattr(response, "status_code", 200) or 200)
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or f"http_{status}")
    if error.startswith(NOT_JSON) or isinstance(response.data, bytes | str):
        error = "not_json"
    return status, error


def _unknown_outcome(status: int, error: str) -> bool:
    """Whether Slack may have carried out a call that failed this way."""
    return status >= 500 or error == "not_json" or error in AMBIGUOUS_ERRORS


def _sender_lock(worker_id: str) -> int:
    return lock_key(f"outbox-sender:{worker_id}")


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 1.0
