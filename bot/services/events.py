"""Remembering which Slack events were handled, so a redelivery is processed once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import ProcessedEvent, utcnow
from bot.services import Unit, one_statement

_EVENTS: Any = ProcessedEvent.__table__
# Built once per dialect (building the statement cost more than running it).
_RECORD = {name: insert(_EVENTS).on_conflict_do_nothing(index_elements=[_EVENTS.c.event_id])
           .returning(_EVENTS.c.event_id)
           for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}


def first_delivery(session: Session, event_id: str) -> bool:
    """Record ``event_id``; False when it was already recorded (a retry or a duplicate).

    One statement on SQLite and PostgreSQL (an insert that does nothing on a conflict, so
    of two simultaneous deliveries exactly one inserts); a check and a guarded insert
    elsewhere.
    """
    record = _RECORD.get(session.get_bind().dialect.name)
    if record is not None:
        inserted = session.execute(record, {"event_id": event_id, "received_at": utcnow()})
        return inserted.first() is not None
    if session.scalar(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id == event_id)):
        return False
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(event_id=event_id))
    except IntegrityError:
        return False
    return True


def forget_old_events(session: Session, now: datetime, keep: timedelta = timedelta(days=7)) -> int:
    """Slack retries for minutes, not days: older ids can go."""
    res = session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < now - keep))
    return int(getattr(res, "rowcount", 0) or 0)


# Use cases (see bot.services) ---------------------------------------------------------

@one_statement
def record_delivery(uow: Unit, event_id: str) -> bool:
    """The Events API middleware: True the first time ``event_id`` arrives."""
    return first_delivery(uow.session, event_id)


def housekeeping(uow: Unit) -> int:
    """The nightly job: forget event ids too old to be redelivered."""
    return forget_old_events(uow.session, uow.now)
