"""Recording ties exactly once, and reading them back for analysis and export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from analytics import model as am
from bot.errors import UnknownPerson
from bot.models import Person, Tie, Workspace
from bot.rendering import escape_slack


@dataclass(frozen=True)
class NewTie:
    source: str
    target: str
    kind: str
    origin: str
    origin_key: str
    occurred_at: datetime
    weight: float = 1.0
    reason: str | None = None
    value: str | None = None


def person_by_slack_id(session: Session, workspace: Workspace, slack_id: str) -> Person:
    person = session.scalar(
        select(Person).where(Person.workspace_id == workspace.id, Person.slack_id == slack_id)
    )
    if person is None:
        raise UnknownPerson(f"<@{escape_slack(slack_id)}> is not someone PeerPulse knows in "
                            "this workspace.")
    return person


def record_tie(session: Session, workspace: Workspace, tie: NewTie) -> bool:
    """Store ``tie`` unless its origin key was seen before. Returns True when stored.

    The unique (workspace, origin_key) constraint is the real guard: a concurrent duplicate
    loses the insert race inside a savepoint and is reported as not stored.
    """
    exists = session.scalar(
        select(Tie.id).where(Tie.workspace_id == workspace.id, Tie.origin_key == tie.origin_key)
    )
    if exists is not None:
        return False
    source = person_by_slack_id(session, workspace, tie.source)
    target = person_by_slack_id(session, workspace, tie.target)
    row = Tie(
        workspace_id=workspace.id,
        source_id=source.id,
        target_id=target.id,
        kind=tie.kind,
        weight=tie.weight,
        occurred_at=tie.occurred_at,
        origin=tie.origin,
        origin_key=tie.origin_key,
        reason=tie.reason,
        value=tie.value,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def to_analytics_person(p: Person) -> am.Person:
    return am.Person(
        id=p.slack_id,
        # The full name first: display names are often a first name only, shared by many.
        name=p.real_name or p.label,
        team=p.team or "",
        manager=p.manager or "",
        title=p.title or "",
        location=p.location or "",
        champion=p.is_champion,
        joined_at=p.created_at.date().isoformat() if p.created_at else "",
        active=p.is_active,
        opted_out=p.opted_out,
    )


def analysis_inputs(
    session: Session, workspace: Workspace, *, include_inactive: bool = False
) -> tuple[list[am.Tie], list[am.Person]]:
    """Ties and people as analytics inputs. Opted-out people and their ties never leave here."""
    people_q = select(Person).where(
        Person.workspace_id == workspace.id, Person.opted_out.is_(False)
    )
    if not include_inactive:
        people_q = people_q.where(Person.is_active.is_(True))
    people = [to_analytics_person(p) for p in session.scalars(people_q.order_by(Person.slack_id))]
    src, tgt = aliased(Person), aliased(Person)
    rows = session.execute(
        select(src.slack_id, tgt.slack_id, Tie.kind, Tie.weight, Tie.occurred_at, Tie.origin)
        .join(src, Tie.source_id == src.id)
        .join(tgt, Tie.target_id == tgt.id)
        .where(Tie.workspace_id == workspace.id, src.opted_out.is_(False), tgt.opted_out.is_(False))
        .order_by(Tie.occurred_at, Tie.id)
    )
    ties = [
        am.Tie(source=s, target=t, kind=k, weight=w, occurred_at=at, origin=o)
        for s, t, k, w, at, o in rows
    ]
    return ties, people
