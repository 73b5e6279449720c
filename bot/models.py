"""SQLAlchemy 2 models: what PeerPulse keeps about workspaces, people and ties.

The schema changes only through Alembic migrations in `bot/migrations`; these classes
describe the current head and are what services query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Workspace(Base):
    """One tenant: a Slack workspace (team) the bot is installed in, or, for an Enterprise
    Grid org-wide install, the whole organisation (``slack_team_id`` is then the enterprise
    id and its workspaces form one network). Every row of every other table belongs to one."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_team_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    roster_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    # False once the app is uninstalled or its token revoked: nothing is scheduled or sent
    # for it; its data stays under the usual retention rules until a reinstall.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    people: Mapped[list[Person]] = relationship(back_populates="workspace")


class Person(Base):
    """A human member of the workspace. Bots and Slackbot are never stored here."""

    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("workspace_id", "slack_id", name="uq_people_workspace_slack"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slack_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    real_name: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    tz: Mapped[str | None] = mapped_column(String(64), nullable=True)
    team: Mapped[str | None] = mapped_column(String(255), nullable=True)
    manager: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_champion: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    polls_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    workspace: Mapped[Workspace] = relationship(back_populates="people")

    @property
    def label(self) -> str:
        return self.display_name or self.real_name or self.name or self.slack_id


class Tie(Base):
    """One tie event: ``source`` named ``target``. ``origin_key`` makes repeats impossible."""

    __tablename__ = "ties"
    __table_args__ = (
        UniqueConstraint("workspace_id", "origin_key", name="uq_ties_workspace_origin_key"),
        Index("ix_ties_workspace_occurred", "workspace_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    origin: Mapped[str] = mapped_column(String(32))
    origin_key: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    source: Mapped[Person] = relationship(foreign_keys=[source_id])
    target: Mapped[Person] = relationship(foreign_keys=[target_id])


class ProcessedEvent(Base):
    """Slack event ids already handled, so redelivered events are ignored."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkspaceSetting(Base):
    """Owner-editable settings, one JSON value per key."""

    __tablename__ = "workspace_settings"
    __table_args__ = (UniqueConstraint("workspace_id", "key", name="uq_settings_workspace_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Who did what, when: snapshots, exports, settings and roster changes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[Any] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class PollRound(Base):
    """One round of one poll question: who was asked, when it reminds and closes."""

    __tablename__ = "poll_rounds"
    __table_args__ = (
        UniqueConstraint("workspace_id", "round_key", name="uq_poll_rounds_workspace_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    round_key: Mapped[str] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32), default="schedule")
    sample_fraction: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PollRequest(Base):
    """One person asked in one round, and their answer (at most one)."""

    __tablename__ = "poll_requests"
    __table_args__ = (
        UniqueConstraint("round_id", "person_id", name="uq_poll_requests_round_person"),
        Index("ix_poll_requests_person_asked", "person_id", "asked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("poll_rounds.id", ondelete="CASCADE"),
                                          index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    team: Mapped[str | None] = mapped_column(String(255), nullable=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)
    named_count: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    round: Mapped[PollRound] = relationship()
    person: Mapped[Person] = relationship()


class OutboxMessage(Base):
    """A DM waiting to be sent, or sent: the durable send log of the background sender.

    ``idempotency_key`` makes enqueuing the same message twice impossible; it also travels
    in the Slack message metadata so a send whose outcome is unknown can be looked up.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_messages_idempotency_key"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(191))
    channel: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JSON)
    poll_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("poll_requests.id", ondelete="CASCADE"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    posted_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KudosRequest(Base):
    """An acknowledged `/kudos`, written before the acknowledgement and deleted once its giver
    has been answered: a crash in between leaves the row, and the next start finishes it
    (`bot.services.kudos:finish_unfinished`). It holds the command's text only that long.
    """

    __tablename__ = "kudos_requests"
    __table_args__ = (
        UniqueConstraint("workspace_id", "request_key", name="uq_kudos_requests_workspace_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    request_key: Mapped[str] = mapped_column(String(191))
    giver: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    # "pending" until the kudos is carried out, then "done" until the giver is answered.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # What came of it (stored for whom, or why it was refused), for the answer after a crash.
    outcome: Mapped[Any] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChampionDigest(Base):
    """One period's champion digest: the figures it showed (the next digest's trend reads
    them). Posting it is an outbox row per champion channel."""

    __tablename__ = "champion_digests"
    __table_args__ = (
        UniqueConstraint("workspace_id", "period", name="uq_champion_digests_workspace_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32), default="schedule")
    figures: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Nudge(Base):
    """One champion's nudge decision for one period: sent (queued in the outbox) or skipped
    because there was nothing worth saying. The frequency cap reads these rows, so it holds
    across restarts."""

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("champion_id", "period", name="uq_nudges_champion_period"),
        Index("ix_nudges_champion_created", "champion_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    champion_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32), default="schedule")
    status: Mapped[str] = mapped_column(String(16))  # sent | skipped
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reach_one: Mapped[float | None] = mapped_column(Float, nullable=True)
    reach_two: Mapped[float | None] = mapped_column(Float, nullable=True)
    outbox_key: Mapped[str | None] = mapped_column(String(191), nullable=True)
    deliver_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    champion: Mapped[Person] = relationship()


class Suggestion(Base):
    """One suggestion that could be made to a champion: shown in their nudge, or withheld
    at random (the holdout) so its follow-through can be compared with the shown ones.
    ``status`` is the champion's answer to a shown one: open, done, snoozed, not_useful."""

    __tablename__ = "suggestions"
    __table_args__ = (
        Index("ix_suggestions_champion_created", "champion_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    nudge_id: Mapped[int] = mapped_column(ForeignKey("nudges.id", ondelete="CASCADE"),
                                          index=True)
    champion_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                            index=True)
    other_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=True)
    group_label: Mapped[str | None] = mapped_column(String(255), nullable=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    arm: Mapped[str] = mapped_column(String(16))  # shown | withheld
    status: Mapped[str] = mapped_column(String(16), default="open")
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    champion: Mapped[Person] = relationship(foreign_keys=[champion_id])
    subject: Mapped[Person] = relationship(foreign_keys=[subject_id])
    other: Mapped[Person | None] = relationship(foreign_keys=[other_id])


class JobRun(Base):
    """One scheduled run of a job, claimed by the process that carries it out
    (`bot.leader:claim_run`): however many schedulers fire it, it runs once."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(String(191), primary_key=True)
    fire_time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    runner: Mapped[str] = mapped_column(String(191))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Unset while it runs, or when its process stopped mid-run.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
