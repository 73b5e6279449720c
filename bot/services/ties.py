"""Recording ties exactly once, and reading them back for analysis and export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


# Statements built once (building one costs more than running it on a small table).
_PEOPLE_IDS = select(Person.slack_id, Person.id).where(
    Person.workspace_id == bindparam("workspace_id"),
    Person.slack_id.in_(bindparam("slack_ids", expanding=True)))
_TIES: Any = Tie.__table__
_INSERTS: dict[str, Any] = {
    name: insert(_TIES).on_conflict_do_nothing(index_elements=[_TIES.c.workspace_id,
                                                               _TIES.c.origin_key])
    .returning(_TIES.c.origin_key)  # one row per tie stored (`insert_tie`, `insert_ties`)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}


def record_tie(session: Session, workspace: Workspace | int, tie: NewTie) -> bool:
    """Store ``tie`` unless its origin key was seen before. Returns True when stored.

    ``workspace``: the row or its id. Both people must be known (`UnknownPerson`).
    """
    workspace_id = workspace if isinstance(workspace, int) else workspace.id
    ids = dict(session.execute(_PEOPLE_IDS, {"workspace_id": workspace_id,
                                             "slack_ids": [tie.source, tie.target]}).all())
    for slack_id in (tie.source, tie.target):
        if slack_id not in ids:
            raise UnknownPerson(f"<@{escape_slack(slack_id)}> is not someone PeerPulse knows "
                                "in this workspace.")
    return insert_tie(session, workspace_id, ids[tie.source], ids[tie.target], tie)


def insert_tie(session: Session, workspace_id: int, source_id: int, target_id: int,
               tie: NewTie) -> bool:
    """Store ``tie`` between two known people unless its origin key was seen before.
    Returns True when stored.

    The unique (workspace, origin_key) constraint is the guard: on SQLite and PostgreSQL
    one INSERT that does nothing on a conflict (of two concurrent duplicates exactly one
    inserts), elsewhere an insert in a savepoint whose loser is reported as not stored.
    """
    row = _row(workspace_id, source_id, target_id, tie)
    statement = _INSERTS.get(session.get_bind().dialect.name)
    if statement is not None:
        return session.execute(statement, row).first() is not None
    if session.scalar(select(Tie.id).where(Tie.workspace_id == workspace_id,
                                           Tie.origin_key == tie.origin_key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Tie(**row))
    except IntegrityError:
        return False
    return True


def insert_ties(session: Session, workspace_id: int,
                ties: Sequence[tuple[int, int, NewTie]]) -> set[str]:
    """`insert_tie` for several ties between known people (source id, target id, tie):
    the origin keys stored, the others having been seen before.

    On SQLite and PostgreSQL one multi-row INSERT that does nothing on a conflict, in
    origin-key order (two transactions inserting the same keys meet them in one order).
    """
    statement = _INSERTS.get(session.get_bind().dialect.name)
    if statement is None or len(ties) < 2:
        return {tie.origin_key for source_id, target_id, tie in ties
                if insert_tie(session, workspace_id, source_id, target_id, tie)}
    rows = [_row(workspace_id, source_id, target_id, tie) for source_id, target_id, tie
            in sorted(ties, key=lambda t: t[2].origin_key)]
    return set(session.scalars(statement, rows))


def _row(workspace_id: int, source_id: int, target_id: int, tie: NewTie) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "source_id": source_id, "target_id": target_id,
            "kind": tie.kind, "weight": tie.weight, "occurred_at": tie.occurred_at,
            "origin": tie.origin, "origin_key": tie.origin_key, "reason": tie.reason,
            "value": tie.value}


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
