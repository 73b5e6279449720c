"""The roster: who the people of the workspace are, from Slack and from an HR file.

Slack's `users.list` says who exists and who is active; `peerpulse roster import` adds the
formal structure (team, manager, title) that Slack does not know.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.errors import RosterImportError
from bot.models import Person, Workspace
from bot.services import Unit
from bot.services.erasure import tombstone_of

log = logging.getLogger(__name__)

SLACKBOT_ID = "USLACKBOT"
USERS_LIST_PAGE = 200


def is_person(user: Mapping[str, Any]) -> bool:
    """True for human members; bots, apps and Slackbot (reported with is_bot false) are not."""
    if user.get("id") == SLACKBOT_ID:
        return False
    return not (user.get("is_bot") or user.get("is_app_user") or user.get("is_workflow_bot"))


def is_active_member(user: Mapping[str, Any]) -> bool:
    return not user.get("deleted") and not user.get("is_invited_user", False)


@dataclass
class SyncResult:
    pages: int = 0
    seen: int = 0
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    skipped_bots: int = 0

    def summary(self) -> str:
        return (
            f"{self.seen} people from {self.pages} page(s): {self.added} new, "
            f"{self.updated} updated, {self.deactivated} deactivated, "
            f"{self.reactivated} reactivated, {self.skipped_bots} bots skipped"
        )


def iter_users(
    client: WebClient, page_size: int = USERS_LIST_PAGE, team_id: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Yield `users.list` pages, following the cursor (pages may be shorter than ``limit``);
    ``team_id``: one workspace of an org-wide install (an org token lists one at a time)."""
    cursor: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": page_size}
        if team_id:
            kwargs["team_id"] = team_id
        if cursor:
            kwargs["cursor"] = cursor
        resp = client.users_list(**kwargs)
        yield list(resp.get("members") or [])
        cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return


def insert_person(session: Session, workspace: Workspace, slack_id: str,
                  values: Mapping[str, Any]) -> tuple[Person, bool]:
    """Create a person unless someone else just did; returns the person and whether it is new.

    An upsert (``INSERT ... ON CONFLICT DO NOTHING`` on the unique workspace and Slack id),
    because people are created concurrently: the roster sync, events and a `/kudos` naming
    someone the roster has not seen yet may all create the same person at once.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(Person).values(workspace_id=workspace.id, slack_id=slack_id, **values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["workspace_id", "slack_id"])
    created = session.execute(stmt.returning(Person.id)).first() is not None
    person = session.scalar(
        select(Person).where(Person.workspace_id == workspace.id, Person.slack_id == slack_id)
        .execution_options(populate_existing=True))
    assert person is not None  # inserted here, or by the concurrent creator that won
    return person, created


def apply_user(
    session: Session,
    workspace: Workspace,
    user: Mapping[str, Any],
    result: SyncResult | None = None,
) -> Person | None:
    """Insert or update one Slack user. Returns the person, or None for bots and Slackbot."""
    result = result if result is not None else SyncResult()
    if not is_person(user):
        result.skipped_bots += 1
        return None
    slack_id = str(user["id"])
    profile = user.get("profile") or {}
    person = session.scalar(
        select(Person).where(Person.workspace_id == workspace.id, Person.slack_id == slack_id)
    )
    active = is_active_member(user)
    fields = {
        "name": str(user.get("name") or ""),
        "real_name": str(user.get("real_name") or profile.get("real_name") or ""),
        "display_name": str(profile.get("display_name") or ""),
        "email": profile.get("email") or None,
        "tz": user.get("tz") or None,
    }
    if person is None:
        forgotten = tombstone_of(session, workspace, slack_id)
        if forgotten is not None:  # they asked to be forgotten: stay out, learn nothing
            return forgotten
        person, created = insert_person(session, workspace, slack_id, {
            "is_active": active, "is_deleted": bool(user.get("deleted")), **fields})
        if created:
            result.added += 1
            return person
    changed = False
    for key, value in fields.items():
        if getattr(person, key) != value:
            setattr(person, key, value)
            changed = True
    if person.is_active and not active:
        result.deactivated += 1
    elif not person.is_active and active:
        result.reactivated += 1
    elif changed:
        result.updated += 1
    person.is_active = active
    person.is_deleted = bool(user.get("deleted"))
    return person


def sync_roster(
    session: Session,
    client: WebClient,
    workspace: Workspace,
    *,
    now: datetime,
    page_size: int = USERS_LIST_PAGE,
) -> SyncResult:
    """Bring people in line with `users.list`. Deactivated people keep their history."""
    result = SyncResult()
    teams: list[str | None] = [None]
    if workspace.is_enterprise_install:  # one network across the organisation's workspaces
        teams = [str(t["id"]) for t in client.auth_teams_list(limit=1000).get("teams") or []]
    for team in teams:
        for page in iter_users(client, page_size, team):
            result.pages += 1
            for user in page:
                if is_person(user):
                    result.seen += 1
                apply_user(session, workspace, user, result)
            session.flush()
    workspace.roster_synced_at = now
    log.info("roster sync: %s", result.summary())
    return result


ROSTER_COLUMNS = ("slack_id", "email", "team", "manager", "title", "location", "champion")
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})


@dataclass
class ImportResult:
    rows: int
    changed: int


def import_roster(session: Session, workspace: Workspace, path: Path) -> ImportResult:
    """Load team, manager, title, location and champion (true/false; a blank cell leaves it
    as it is) from a CSV keyed by ``slack_id`` or ``email``.

    Every row is checked before anything is written; any bad row raises
    `RosterImportError` listing every problem with its line number, and nothing is applied.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RosterImportError(name, [(0, f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise RosterImportError(name, [(0, "file is not UTF-8 text")]) from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise RosterImportError(name, [(1, "empty file: expected a header row")])
    reader.fieldnames = header
    if "slack_id" not in header and "email" not in header:
        raise RosterImportError(name, [(1, "missing column: need slack_id or email")])
    useful = [c for c in ("team", "manager", "title", "location", "champion") if c in header]
    if not useful:
        raise RosterImportError(
            name, [(1, "no data columns: expected at least one of team, manager, title, "
                       "location, champion")]
        )

    people = list(session.scalars(select(Person).where(Person.workspace_id == workspace.id)))
    by_id = {p.slack_id: p for p in people}
    by_email = {p.email.lower(): p for p in people if p.email}

    def lookup(key: str) -> Person | None:
        key = key.strip()
        return by_email.get(key.lower()) if "@" in key else by_id.get(key)

    problems: list[tuple[int, str]] = []
    planned: list[tuple[Person, dict[str, str | None]]] = []
    seen: dict[int, int] = {}
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        if None in row:
            problems.append((line, "more values than header columns"))
            continue
        key = (row.get("slack_id") or "").strip() or (row.get("email") or "").strip()
        if not key:
            problems.append((line, "no slack_id or email"))
            continue
        person = lookup(key)
        if person is None and tombstone_of(session, workspace, key) is not None:
            continue  # forgotten at their request: nothing is recorded about them
        if person is None:
            problems.append(
                (line, f"unknown person {key!r} (run the bot once so the roster syncs)")
            )
            continue
        if person.id in seen:
            problems.append((line, f"{key!r} already given on line {seen[person.id]}"))
            continue
        seen[person.id] = line
        values: dict[str, str | None] = {}
        for col in useful:
            raw = (row.get(col) or "").strip()
            values[col] = raw or None
        flag = (values.pop("champion", None) or "").lower()  # blank: left as it is
        if flag in TRUE_WORDS | FALSE_WORDS:
            values["champion"] = "true" if flag in TRUE_WORDS else "false"
        elif flag:
            problems.append((line, f"champion is true or false, not {flag!r}"))
            continue
        manager_key = values.get("manager")
        if manager_key:
            manager = lookup(manager_key)
            if manager is None and tombstone_of(session, workspace, manager_key) is not None:
                values["manager"] = None
                planned.append((person, values))
                continue
            if manager is None:
                problems.append((line, f"unknown manager {manager_key!r}"))
                continue
            if manager.id == person.id:
                problems.append((line, "a person cannot be their own manager"))
                continue
            values["manager"] = manager.slack_id
        planned.append((person, values))
    if problems:
        raise RosterImportError(name, problems)
    changed = 0
    for person, planned_values in planned:
        for column, new in planned_values.items():
            attr, value = ("is_champion", new == "true") if column == "champion" else (
                column, new)
            if getattr(person, attr) != value:
                setattr(person, attr, value)
                changed += 1
    return ImportResult(rows=len(planned), changed=changed)


# Use cases (see bot.services) ---------------------------------------------------------

def member_changed(uow: Unit, user: Mapping[str, Any]) -> bool:
    """Apply one `user_change` / `team_join` event.

    Returns True when the member is a person (bots and Slackbot are ignored).
    """
    return apply_user(uow.session, uow.workspace, user) is not None


def sync(uow: Unit) -> SyncResult:
    """The scheduled (and start-up) roster sync from `users.list`."""
    return sync_roster(uow.session, uow.slack, uow.workspace, now=uow.now)


def import_file(uow: Unit, path: Path) -> ImportResult:
    """`peerpulse roster import FILE.csv`."""
    return import_roster(uow.session, uow.workspace, path)


def set_champions(uow: Unit, slack_ids: list[str], champion: bool = True) -> int:
    """Mark (or unmark) several champions at once, e.g. from a programme's first list."""
    for slack_id in slack_ids:
        set_champion(uow.session, uow.workspace, slack_id, champion)
    return len(slack_ids)


def set_champion(session: Session, workspace: Workspace, slack_id: str, champion: bool) -> Person:
    """Mark or unmark a champion (the `/network champion add|remove` use case)."""
    from bot.services.ties import person_by_slack_id

    person = person_by_slack_id(session, workspace, slack_id)
    person.is_champion = champion
    return person
