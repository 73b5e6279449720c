"""Erasure (`/network forgetme`): every copy of a person's data erased or irreversibly
anonymised, and the rule that keeps them out from then on.

What happens, in order (`erase_person`):

1. every row that points at the person (``people.id`` foreign keys in any table: ties
   both ways, poll requests, nudges, suggestions, ...) is deleted, with the messages
   queued for them and the `/kudos` requests they made;
2. every text and JSON column of every other table is swept: a mention of them becomes
   "someone", their names and email become "someone", their Slack id inside keys becomes
   an opaque token (so keys stay unique); audit entries they made keep the action but
   not the actor; people they managed lose the link;
3. their own row becomes a tombstone: no name, email, timezone or team, opted out, its
   Slack id replaced by a keyed hash (HMAC-SHA256 with a random per-workspace key). The
   roster sync and events see the tombstone and leave it alone, so they stay out;
4. snapshot and export folders on the server that contain them are deleted;
5. once committed, the database files are compacted (`bot.db.compact_after_commit`).

Nothing here logs the person's id or name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import PeerPulseError
from bot.files import remove_folders
from bot.models import (
    AuditEntry,
    Base,
    KudosRequest,
    OutboxMessage,
    Person,
    Tie,
    Workspace,
    WorkspaceSetting,
)

TOMBSTONE = "forgotten:"
SALT_KEY = "erasure_salt"  # a workspace_settings row; not a programme setting
REPLACEMENT = "someone"
ERASED_ACTOR = "erased-person"
FILE_AREAS = ("snapshots", "exports")
MIN_NAME = 2  # a one-letter name would redact half of every text


class NothingHeld(PeerPulseError):
    """The asker was forgotten earlier: PeerPulse holds nothing about them."""

    def __init__(self) -> None:
        super().__init__("PeerPulse holds nothing about you: you asked to be forgotten. "
                         "`/network optin` brings you back from now on.")


# The tombstone -----------------------------------------------------------------------

def _salt(session: Session, workspace: Workspace, *, create: bool) -> bytes | None:
    cached = session.info.get((SALT_KEY, workspace.id))
    if cached is not None and (cached or not create):
        return bytes(cached) or None  # b"": nobody forgotten yet (a roster sync asks often)
    q = select(WorkspaceSetting.value).where(WorkspaceSetting.workspace_id == workspace.id,
                                             WorkspaceSetting.key == SALT_KEY)
    value = session.scalar(q)
    if value is None and create:
        try:
            with session.begin_nested():
                session.add(WorkspaceSetting(workspace_id=workspace.id, key=SALT_KEY,
                                             value=secrets.token_hex(32)))
        except IntegrityError:  # a concurrent first erasure made it
            pass
        value = session.scalar(q)
    if value is None:
        session.info[(SALT_KEY, workspace.id)] = b""
        return None
    salt = bytes.fromhex(str(value))
    session.info[(SALT_KEY, workspace.id)] = salt
    return salt


def _token(salt: bytes, value: str) -> str:
    return TOMBSTONE + hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()[:40]


def tombstone_of(session: Session, workspace: Workspace, key: str) -> Person | None:
    """The tombstone of a forgotten person, found by their Slack id or email; None when
    ``key`` belongs to nobody forgotten."""
    salt = _salt(session, workspace, create=False)
    if salt is None:
        return None  # nobody was ever forgotten here
    key = key.strip()
    token = _token(salt, key.lower() if "@" in key else key)
    return session.scalar(select(Person).where(
        Person.workspace_id == workspace.id,
        or_(Person.slack_id == token, Person.email == token)))


def restore(session: Session, workspace: Workspace, slack_id: str) -> Person | None:
    """Bring a forgotten person back (they opted in again): their tombstone gets their
    Slack id back, with nothing else; the roster fills in the rest."""
    person = tombstone_of(session, workspace, slack_id)
    if person is None:
        return None
    person.slack_id, person.email, person.opted_out = slack_id, None, False
    session.flush()
    return person


# Redaction ---------------------------------------------------------------------------

@dataclass
class Redactor:
    """Rewrites text and JSON values so they no longer identify one person."""

    slack_id: str
    names: list[str]
    email: str | None
    token: str

    def __post_init__(self) -> None:
        ident = re.escape(self.slack_id)
        self._mention = re.compile(rf"<@{ident}(?:\|[^>]*)?>")
        self._id = re.compile(rf"(?<![A-Za-z0-9]){ident}(?![A-Za-z0-9])")
        words = sorted({n for n in [*(self.names), self.email or ""] if len(n) >= MIN_NAME},
                       key=len, reverse=True)
        self._words = [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE)
                       for w in words]
        self.needles = [self.slack_id, *words]

    def text(self, value: str) -> str:
        value = self._mention.sub(REPLACEMENT, value)
        value = self._id.sub(self.token, value)
        for word in self._words:
            value = word.sub(REPLACEMENT, value)
        return value

    def value(self, value: Any) -> Any:
        """Redact a JSON value; list items that are exactly the Slack id are dropped."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value if v != self.slack_id]
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        return value

    def patterns(self) -> list[str]:
        """LIKE patterns that find candidate rows (JSON columns hold escaped text)."""
        forms = {form for n in self.needles for form in (n, json.dumps(n)[1:-1])}
        return [f"%{form}%" for form in sorted(forms)]


def _sweep_table(session: Session, table: Table, redactor: Redactor) -> int:
    """Redact every text and JSON column of ``table``; returns the rows changed."""
    columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)
               and not c.primary_key]
    pk = list(table.primary_key.columns)
    if not columns or len(pk) != 1:
        return 0
    changed = 0
    patterns = redactor.patterns()
    for column in columns:
        as_text = cast(column, Text) if isinstance(column.type, JSON) else column
        hits = session.execute(select(pk[0], column).where(
            or_(*(as_text.ilike(p) for p in patterns)))).all()
        fix: Callable[[Any], Any] = (redactor.value if isinstance(column.type, JSON)
                                     else redactor.text)
        for key, old in hits:
            new = fix(old)
            if new != old:
                session.execute(update(table).where(pk[0] == key).values({column.name: new}))
                changed += 1
    return changed


# Files on the server -------------------------------------------------------------------

def _holds(path: Path, needles: Iterable[bytes]) -> bool:
    data = path.read_bytes()
    return any(re.search(rb"(?<![A-Za-z0-9])" + re.escape(n) + rb"(?![A-Za-z0-9])", data,
                         re.IGNORECASE) for n in needles)


def erase_files(data_dir: Path, needles: Iterable[str]) -> int:
    """Delete every snapshot and export folder with a file naming the person."""
    wanted = [n.encode() for n in needles if len(n) >= MIN_NAME]
    return remove_folders(data_dir, FILE_AREAS, lambda folder: any(
        _holds(f, wanted) for f in folder.rglob("*") if f.is_file()))


# The erasure ---------------------------------------------------------------------------

@dataclass
class Erasure:
    """What one erasure removed or rewrote (counts only: no one is named)."""

    ties: int = 0
    rows: int = 0
    redacted: int = 0
    folders: int = 0
    tables: set[str] = field(default_factory=set)

    def summary(self) -> str:
        return (f"{self.ties} tie(s) and {self.rows} other row(s) deleted, {self.redacted} "
                f"row(s) redacted, {self.folders} snapshot/export folder(s) deleted")


def _referencing(table: Table) -> list[Any]:
    return [fk.parent for fk in table.foreign_keys if fk.column.table.name == "people"]


def erase_person(session: Session, workspace: Workspace, person: Person, data_dir: Path
                 ) -> Erasure:
    """Erase ``person`` everywhere (see the module docstring). The caller commits, then
    the database files should be compacted."""
    done = Erasure()
    slack_id, email = person.slack_id, person.email
    names = [person.real_name, person.display_name, person.name]
    salt = _salt(session, workspace, create=True)
    assert salt is not None
    redactor = Redactor(slack_id, [n for n in names if n], email, _token(salt, slack_id)[:24])

    # 1. Rows about them: anything pointing at their people row, dependants first.
    for table in reversed(Base.metadata.sorted_tables):
        refs = _referencing(table)
        if not refs or table.name == "people":
            continue
        count = int(getattr(session.execute(delete(table).where(
            or_(*(ref == person.id for ref in refs)))), "rowcount", 0) or 0)
        if table.name == Tie.__tablename__:
            done.ties += count
        else:
            done.rows += count
        if count:
            done.tables.add(table.name)
    for stmt in (delete(OutboxMessage).where(OutboxMessage.workspace_id == workspace.id,
                                             OutboxMessage.channel == slack_id),
                 delete(KudosRequest).where(KudosRequest.workspace_id == workspace.id,
                                            KudosRequest.giver == slack_id)):
        count = int(getattr(session.execute(stmt), "rowcount", 0) or 0)
        done.rows += count
    done.tables |= {"outbox_messages", "kudos_requests"}
    session.execute(update(AuditEntry).where(AuditEntry.actor == slack_id)
                    .values(actor=ERASED_ACTOR))
    session.execute(update(Person).where(Person.workspace_id == workspace.id,
                                         Person.manager == slack_id).values(manager=None))

    # 2. Everything else that mentions them.
    for table in Base.metadata.sorted_tables:
        if table.name == "people":
            continue
        changed = _sweep_table(session, table, redactor)
        done.redacted += changed
        if changed:
            done.tables.add(table.name)

    # 3. Their own row: a tombstone.
    person.slack_id = _token(salt, slack_id)
    person.email = _token(salt, email.strip().lower()) if email else None
    person.name = person.real_name = person.display_name = ""
    person.tz = person.team = person.manager = person.title = person.location = None
    person.is_champion = person.polls_paused = False
    person.opted_out, person.is_active, person.is_deleted = True, True, False
    done.tables |= {"people", "audit_log"}
    session.flush()

    # 4. Files on the server.
    done.folders = erase_files(data_dir, [slack_id, person_name(names), email or ""])
    return done


def person_name(names: list[str]) -> str:
    """The most specific name (the longest): a full name rather than a first name."""
    return max(names, key=len) if names else ""
