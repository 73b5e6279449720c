"""Retention: how long PeerPulse keeps what it holds, and the purge that enforces it.

Ties, poll rounds (who was asked and who answered), champions' nudges, suggestions and
digests, and the audit log are kept ``PEERPULSE_TIE_RETENTION_MONTHS`` (default 18); the
snapshot, export and digest folders on the server and the outbox's copies of messages
already sent, ``PEERPULSE_SNAPSHOT_RETENTION_DAYS`` (default 90). `purge` is the use case;
`bot.jobs` runs it every night. PRIVACY.md says the same in words for the people concerned.
"""

from __future__ import annotations

import logging
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_, select

from bot.db import compact_after_commit
from bot.files import remove_folders
from bot.models import (
    AuditEntry,
    ChampionDigest,
    Nudge,
    OutboxMessage,
    PollRequest,
    PollRound,
    Suggestion,
    Tie,
)
from bot.services import Unit
from bot.services.outbox import EXPIRED, FAILED, SENT

log = logging.getLogger(__name__)

STAMP = "%Y%m%dT%H%M%SZ"  # how snapshot and export folder names start
FILE_AREAS = ("snapshots", "exports", "digests")
FINISHED = (SENT, FAILED, EXPIRED)  # outbox rows nobody will send again
PURGED_TABLES = ("ties", "poll_requests", "poll_rounds", "audit_log", "outbox_messages",
                 "suggestions", "nudges", "champion_digests")


@dataclass(frozen=True)
class Purged:
    """What one purge removed."""

    ties: int = 0
    poll_rounds: int = 0
    poll_requests: int = 0
    audit_entries: int = 0
    messages: int = 0
    folders: int = 0
    champion_records: int = 0

    @property
    def total(self) -> int:
        return sum(astuple(self))

    def summary(self) -> str:
        return (f"{self.ties} tie(s), {self.poll_rounds} poll round(s) with "
                f"{self.poll_requests} request(s), {self.audit_entries} audit entr(ies), "
                f"{self.messages} sent message(s), {self.folders} snapshot/export folder(s), "
                f"{self.champion_records} champion nudge/suggestion/digest record(s)")


def months_before(when: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to month end).

    >>> months_before(datetime(2026, 8, 31, 12, tzinfo=UTC), 18)
    datetime.datetime(2025, 2, 28, 12, 0, tzinfo=datetime.timezone.utc)
    """
    index = when.year * 12 + (when.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=when.tzinfo)
    last_day = (following - timedelta(days=1)).day
    return when.replace(year=year, month=month, day=min(when.day, last_day))


def folder_time(folder: Path) -> datetime:
    """When a snapshot, export or digest folder was written: the stamp its name starts
    with, or its modification time for a folder named otherwise (digests: the week)."""
    try:
        return datetime.strptime(folder.name[:len("20260101T000000Z")], STAMP).replace(
            tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(folder.stat().st_mtime, UTC)


def purge_files(data_dir: Path, before: datetime) -> int:
    """Delete snapshot, export and digest folders written before ``before``; returns how
    many."""
    return remove_folders(data_dir, FILE_AREAS, lambda folder: folder_time(folder) < before)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def purge(uow: Unit) -> Purged:
    """Delete everything older than its retention period (the nightly job)."""
    settings, ws, session = uow.settings, uow.workspace.id, uow.session
    keep_from = months_before(uow.now, settings.tie_retention_months)
    files_from = uow.now - timedelta(days=settings.snapshot_retention_days)

    ties = _count(session.execute(delete(Tie).where(
        Tie.workspace_id == ws, Tie.occurred_at < keep_from)))
    old_rounds = select(PollRound.id).where(PollRound.workspace_id == ws,
                                            PollRound.closes_at < keep_from)
    old_requests = select(PollRequest.id).where(PollRequest.round_id.in_(old_rounds))
    messages = _count(session.execute(delete(OutboxMessage).where(
        OutboxMessage.workspace_id == ws,
        or_(OutboxMessage.poll_request_id.in_(old_requests),
            OutboxMessage.status.in_(FINISHED) & (OutboxMessage.created_at < files_from)))))
    requests = _count(session.execute(delete(PollRequest).where(
        PollRequest.round_id.in_(old_rounds))))
    rounds = _count(session.execute(delete(PollRound).where(
        PollRound.workspace_id == ws, PollRound.closes_at < keep_from)))
    audits = _count(session.execute(delete(AuditEntry).where(
        or_(AuditEntry.workspace_id == ws, AuditEntry.workspace_id.is_(None)),
        AuditEntry.at < keep_from)))
    champion = 0
    for model in (Suggestion, Nudge, ChampionDigest):  # suggestions hang off nudges
        champion += _count(session.execute(delete(model).where(
            model.workspace_id == ws, model.created_at < keep_from)))
    folders = purge_files(Path(settings.data_dir).resolve(), files_from)
    purged = Purged(ties, rounds, requests, audits, messages, folders, champion)
    if purged.total - folders:
        compact_after_commit(session, PURGED_TABLES)
    return purged
