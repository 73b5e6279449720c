"""Peer recognition: `/kudos`, the kudos modal and reaction kudos become `recognised` ties.

Every rule lives here (self-kudos, bots, deactivated or unknown people, at most 10
recipients, a visible reason within the length limit, the giver's daily cap), each raising
a `KudosRejected` whose message is shown to the giver and whose ``field`` names the modal
input it concerns. A kudos is stored once per (request, recipient): the origin key is built
from Slack's own id for the request (trigger id, view id, reacted message), so retries never
count twice; and the same kudos (giver, recipient, reason) given again within
`REPEAT_WINDOW`, e.g. by a giver who was not sure the first one went through, counts once.

A `/kudos` is recorded (`KudosRequest`) before Slack is acknowledged and carried out after
(`carry_out`); a crash in between leaves the record, which the next start finishes and
answers by DM (`finish_unfinished`), because Slack never retries a slash command.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import bindparam, delete, func, null, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.errors import PeerPulseError
from bot.models import KudosRequest, Person, Tie, Workspace
from bot.rendering import SlackMarkup, escape_slack
from bot.services import Services, Unit, one_statement
from bot.services.delivery import message_key
from bot.services.outbox import Outgoing
from bot.services.roster import apply_user, is_person
from bot.services.settings import ProgrammeSettings
from bot.services.ties import NewTie, insert_ties
from bot.ui import MAX_RECIPIENTS

log = logging.getLogger(__name__)

KIND = "recognised"
#: The same kudos (giver, recipient, reason) given again within this window counts once.
REPEAT_WINDOW = timedelta(hours=1)


class KudosRejected(PeerPulseError):
    """A kudos that breaks a rule. ``field`` is the modal input it belongs to."""

    def __init__(self, message: str, field: str = "recipients") -> None:
        super().__init__(message)
        self.field = field


class NeedsHelp(PeerPulseError):
    """`/kudos` with nothing to act on: the caller shows the usage text."""


MENTION = re.compile(r"<@([A-Z0-9][A-Za-z0-9_.-]*)(?:\|[^>]*)?>")
SUBTEAM = re.compile(r"<!subteam\^([A-Za-z0-9_-]+)(?:\|[^>]*)?>")
CHANNEL_REF = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
HASHTAG = re.compile(r"(?<![\w&])#([A-Za-z][\w-]*)")
PLAIN_AT = re.compile(r"(?<![\w<])@([A-Za-z][\w.-]*)")
SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
# Control characters mean nothing in a kudos, and PostgreSQL refuses NUL in text.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that show nothing on their own (beyond whitespace, format and combining marks).
BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")
EMOJI_START = re.compile(r":[\w+'-]+:")
EMOJI_END = re.compile(r":[\w+'-]+:$")
SEPARATORS = " -:,"


def at(slack_id: str) -> str:
    """A mention of ``slack_id`` for a message, escaped: a forged id cannot become markup.

    >>> at("U1> <!channel")
    '<@U1&gt; &lt;!channel>'
    """
    return f"<@{escape_slack(slack_id)}>"


def clean_text(text: str) -> str:
    r"""``text`` without control characters (tabs and newlines stay).

    >>> clean_text("a\x00b\tc\r\n")
    'ab\tc\n'
    """
    return CONTROL.sub("", text)


def is_visible(text: str) -> bool:
    r"""True when ``text`` shows something: not only spaces, zero-width or combining marks.

    >>> is_visible("\u200b\u200d\ufeff \u3164"), is_visible("\u200bok")
    (False, True)
    """
    return any(not (c.isspace() or c in BLANK or
                    unicodedata.category(c) in ("Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp"))
               for c in text)


def trim_separators(text: str) -> str:
    """Drop what separates mentions from the reason ("@ann: thanks -") but keep an emoji
    code such as ``:tada:`` at either end.

    >>> trim_separators(": :tada: thanks :+1: -")
    ':tada: thanks :+1:'
    """
    text = text.strip()
    while text and text[0] in SEPARATORS and not EMOJI_START.match(text):
        text = text[1:]
    while text and text[-1] in SEPARATORS and not EMOJI_END.search(text):
        text = text[:-1]
    return text.strip()


def unescape_slack(text: str) -> str:
    """Slack sends typed ``&``, ``<``, ``>`` escaped; store what the person typed.

    >>> unescape_slack("a &lt;b&gt; &amp;amp; <!here>")
    'a <b> &amp; @here'
    """
    text = SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class ParsedKudos:
    users: tuple[str, ...]
    groups: tuple[str, ...]
    reason: str
    value: str | None
    unlinked: tuple[str, ...] = ()


def parse_kudos_text(text: str, values: Sequence[str]) -> ParsedKudos:
    """Split `/kudos` text into mentioned users, user groups, the reason and a value.

    Slack sends mentions escaped (``should_escape``); a ``#word`` that names a configured
    value is the value, and ``#channel`` links that match a value count too. Any other
    ``#word`` is part of the reason.

    >>> p = parse_kudos_text("<@U1|ann> <!subteam^S9|@ops> for the fix #teamwork", ["teamwork"])
    >>> p.users, p.groups, p.reason, p.value
    (('U1',), ('S9',), 'for the fix', 'teamwork')
    >>> parse_kudos_text("<@U1> #1 at :tada:", ["teamwork"]).reason
    '#1 at :tada:'
    """
    text = clean_text(text).strip()
    users = tuple(dict.fromkeys(MENTION.findall(text)))
    groups = tuple(dict.fromkeys(SUBTEAM.findall(text)))
    rest = SUBTEAM.sub(" ", MENTION.sub(" ", text))
    rest = CHANNEL_REF.sub(lambda m: f"#{m.group(1)}", rest)
    by_lower = {v.lower(): v for v in values}
    value: str | None = None
    tags = HASHTAG.findall(rest)
    for tag in tags:
        if tag.lower() in by_lower:
            if value is not None and by_lower[tag.lower()] != value:
                raise KudosRejected("Pick one value per kudos, e.g. " +
                                    f"#{value}.", field="value")
            value = by_lower[tag.lower()]
    if value is not None:
        rest = HASHTAG.sub(lambda m: "" if m.group(1).lower() in by_lower else m.group(0), rest)
    unlinked = tuple(PLAIN_AT.findall(rest)) if not users and not groups else ()
    reason = unescape_slack(trim_separators(re.sub(r"\s+", " ", rest)))
    return ParsedKudos(users, groups, reason, value, unlinked)


@dataclass(frozen=True)
class KudosDraft:
    giver: str
    recipients: tuple[str, ...]
    reason: str
    value: str | None
    request_key: str
    groups: tuple[str, ...] = ()
    channel: str | None = None


@dataclass
class KudosOutcome:
    giver: str
    stored: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    reason: str = ""
    value: str | None = None
    origin: str = "kudos"

    @property
    def duplicate(self) -> bool:
        return not self.stored and bool(self.already)


def kudos_key(origin: str, request_key: str, recipient: str) -> str:
    """The origin key of one kudos tie: one per (Slack request, recipient)."""
    return f"{origin}:{request_key}:{recipient}"


def reaction_request(channel: str, ts: str, reactor: str) -> str:
    """A reaction's request key: the reacted message and who reacted."""
    return f"{channel}:{ts}:{reactor}"


def expand_groups(client: WebClient, groups: Iterable[str]) -> list[str]:
    members: list[str] = []
    for group in groups:
        try:
            resp = client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            raise KudosRejected(
                f"I couldn't read the members of that user group ({exc.response.get('error')})."
            ) from None
        members.extend(str(u) for u in resp.get("users") or [])
    return members


def _row(session: Session, workspace: Workspace | int) -> Workspace:
    if isinstance(workspace, Workspace):
        return workspace
    found = session.get(Workspace, workspace)
    if found is None:
        raise PeerPulseError("the workspace is no longer recorded")
    return found


def _id(workspace: Workspace | int) -> int:
    return workspace if isinstance(workspace, int) else workspace.id


# The statements of a kudos, built once (building one costs more than running it). Plain
# table columns: the rows come back as tuples, never as ORM objects.
_PEOPLE_T: Any = Person.__table__
_TIES_T: Any = Tie.__table__
_P, _T = _PEOPLE_T.c, _TIES_T.c
_PEOPLE = select(_P.slack_id, _P.id, _P.is_active, _P.opted_out).where(
    _P.workspace_id == bindparam("ws"), _P.slack_id.in_(bindparam("slack_ids", expanding=True)))
_SEEN = select(_T.origin_key, null(), null(), null()).where(
    _T.workspace_id == bindparam("ws"), _T.origin_key.in_(bindparam("keys", expanding=True)))
# The people named and the origin keys already stored, in one round trip: a person's row
# has an id, a stored key's row has none.
_PEOPLE_AND_SEEN = union_all(_PEOPLE, _SEEN)
_HOLD = (update(_PEOPLE_T).where(_P.id == bindparam("giver_id"))
         .values(updated_at=_P.updated_at))
_REPEATED = (select(_P.slack_id).join(_TIES_T, _T.target_id == _P.id).where(
    _T.workspace_id == bindparam("ws"), _T.source_id == bindparam("giver_id"),
    _T.kind == KIND, _T.origin == bindparam("origin"), _T.reason == bindparam("reason"),
    _T.created_at >= bindparam("since"), _P.slack_id.in_(bindparam("slack_ids", expanding=True))))


def _given_since(since: str, *lead: Any) -> Any:
    """How many kudos the giver gave since the parameter ``since``, after ``lead`` columns."""
    return select(*lead, func.count(_T.id)).where(
        _T.workspace_id == bindparam("ws"), _T.source_id == bindparam("giver_id"),
        _T.kind == KIND, _T.created_at >= bindparam(since))


_GIVEN_TODAY = _given_since("since")
# A /kudos reads both after holding the giver: one statement, one row per repeat (with no
# count) and the count's row (with no person; "since" is the repeat window there).
_REPEATED_AND_TODAY = union_all(_REPEATED.add_columns(null()), _given_since("day", null()))


@dataclass(frozen=True)
class Known:
    """What the kudos rules need of a stored person."""

    id: int
    is_active: bool
    opted_out: bool


def known_people(session: Session, workspace_id: int, slack_ids: Iterable[str],
                 keys: Iterable[str]) -> tuple[dict[str, Known], set[str]]:
    """The stored people among ``slack_ids``, and which of the tie origin ``keys`` are
    stored already, in one query."""
    rows = session.execute(_PEOPLE_AND_SEEN, {"ws": workspace_id, "keys": list(keys),
                                              "slack_ids": list(set(slack_ids))})
    known, seen = {}, set()
    for sid, pid, active, out in rows:
        if pid is None:
            seen.add(sid)
        else:
            known[sid] = Known(pid, bool(active), bool(out))
    return known, seen


def _resolve(session: Session, client: WebClient, workspace: Workspace | int,
             known: dict[str, Known], slack_id: str) -> Known | None:
    """`resolve_person` for someone maybe among ``known`` already."""
    found = known.get(slack_id)
    if found is not None:
        return found
    person = resolve_person(session, client, _row(session, workspace), slack_id)
    if person is None:
        return None
    session.flush()
    found = known[slack_id] = Known(person.id, person.is_active, person.opted_out)
    return found


def resolve_person(session: Session, client: WebClient, workspace: Workspace, slack_id: str
                   ) -> Person | None:
    """The stored person, or one fetched with `users.info` if the roster has not seen them.

    Returns None for bots and Slackbot; raises for ids Slack does not know.
    """
    person = session.scalar(
        select(Person).where(Person.workspace_id == workspace.id, Person.slack_id == slack_id))
    if person is not None:
        return person
    try:
        user = client.users_info(user=slack_id).get("user") or {}
    except SlackApiError as exc:
        if exc.response.get("error") == "user_not_found":
            raise KudosRejected(f"I can't find {at(slack_id)} in this workspace.") from None
        raise
    if not is_person(user):
        return None
    return apply_user(session, workspace, user)


def _check_recipient(session: Session, client: WebClient, workspace: Workspace | int,
                     giver: str, slack_id: str, known: dict[str, Known]) -> Known:
    if slack_id == giver:
        raise KudosRejected("Kudos are for other people — you can't recognise yourself. "
                            "Who helped you?")
    person = _resolve(session, client, workspace, known, slack_id)
    if person is None:
        raise KudosRejected(f"{at(slack_id)} is a bot; kudos are for people.")
    if not person.is_active:
        raise KudosRejected(f"{at(slack_id)} is deactivated and can't receive kudos.")
    if person.opted_out:
        raise KudosRejected(f"{at(slack_id)} doesn't take part in PeerPulse, so I can't record "
                            "kudos for them.")
    return person


def given_today(session: Session, workspace: Workspace | int, giver: Person | Known,
                now: datetime) -> int:
    """Kudos ties given in the 24 hours before ``now`` (the daily cap's count)."""
    return int(session.scalar(_GIVEN_TODAY, {"ws": _id(workspace), "giver_id": giver.id,
                                             "since": now - timedelta(days=1)}) or 0)


def hold_giver(session: Session, giver: Person | Known) -> None:
    """Make concurrent kudos from ``giver`` wait for each other until this transaction ends,
    so the daily cap and the repeat check see every kudos committed before them.

    A write to the giver's row: a row lock on PostgreSQL (FOR NO KEY UPDATE strength, which
    never conflicts with the key-share locks that inserting ties takes, so two people
    thanking each other cannot deadlock), and the write lock on SQLite, taken before the
    count is read.
    """
    session.execute(_HOLD, {"giver_id": giver.id})


def repeated(session: Session, workspace: Workspace | int, giver: Person | Known,
             recipients: Iterable[str], reason: str, now: datetime, origin: str) -> set[str]:
    """Recipients who got this very kudos (same giver and reason) within `REPEAT_WINDOW`.

    A giver who is not sure a kudos went through gives it again; it must count once.
    Reactions are left alone: their reason is the same for every reacted message.
    """
    if origin != "kudos":
        return set()
    return set(session.scalars(_REPEATED, {
        "ws": _id(workspace), "giver_id": giver.id, "origin": origin, "reason": reason,
        "since": now - REPEAT_WINDOW, "slack_ids": list(recipients)}))


def repeated_and_given_today(session: Session, workspace: Workspace | int,
                             giver: Person | Known, recipients: Iterable[str], reason: str,
                             now: datetime, origin: str) -> tuple[set[str], int]:
    """`repeated` and `given_today` together (one statement for a /kudos): both are read
    after `hold_giver`."""
    if origin != "kudos":
        return set(), given_today(session, workspace, giver, now)
    again, count = set(), 0
    for slack_id, given in session.execute(_REPEATED_AND_TODAY, {
            "ws": _id(workspace), "giver_id": giver.id, "origin": origin, "reason": reason,
            "since": now - REPEAT_WINDOW, "day": now - timedelta(days=1),
            "slack_ids": list(recipients)}):
        if given is None:
            again.add(slack_id)
        else:
            count = int(given)
    return again, count


def check_reason(reason: str, limit: int) -> str:
    """The reason as stored (control characters removed), or `KudosRejected`."""
    reason = clean_text(reason).strip()
    if not is_visible(reason):
        raise KudosRejected("Add a reason — say what they did, e.g. "
                            "`/kudos @alex for untangling the release`.", field="reason")
    if len(reason) > limit:
        raise KudosRejected(f"The reason is {len(reason)} characters; keep it under "
                            f"{limit}.", field="reason")
    return reason


def give_kudos(session: Session, client: WebClient, workspace: Workspace | int,
               draft: KudosDraft, *, prefs: ProgrammeSettings, now: datetime,
               origin: str = "kudos") -> KudosOutcome:
    """Check every rule, then store one `recognised` tie per recipient (idempotently).

    ``workspace``: the row or its id (the row is read only to add someone the roster has
    not seen yet)."""
    members = expand_groups(client, draft.groups) if draft.groups else []
    explicit = list(dict.fromkeys(draft.recipients))
    # A giver inside a group they mention is quietly left out; naming oneself is not.
    from_groups = [m for m in dict.fromkeys(members) if m != draft.giver and m not in explicit]
    recipients = explicit + from_groups
    if not recipients:
        raise KudosRejected("Who is it for? Mention one or more people, e.g. "
                            "`/kudos @alex thanks for the review`.")
    if len(recipients) > MAX_RECIPIENTS:
        raise KudosRejected(f"That's {len(recipients)} people; a kudos can go to at most "
                            f"{MAX_RECIPIENTS}. Try a smaller group.")
    reason = check_reason(draft.reason, prefs.kudos_reason_max)
    if draft.value is not None and draft.value not in prefs.kudos_values:
        raise KudosRejected(f"{escape_slack(clean_text(draft.value))} is not one of the "
                            "values.", field="value")

    ws = _id(workspace)
    keys = {r: kudos_key(origin, draft.request_key, r) for r in recipients}
    known, seen = known_people(session, ws, [draft.giver, *recipients], keys.values())
    giver = _resolve(session, client, workspace, known, draft.giver)
    if giver is None or not giver.is_active:
        raise KudosRejected("Only active people can give kudos.")
    if giver.opted_out:
        raise KudosRejected("You've opted out of PeerPulse; `/network optin` to give kudos "
                            "again.")
    outcome = KudosOutcome(giver=draft.giver, reason=reason, value=draft.value, origin=origin)
    fresh = [r for r in recipients if keys[r] not in seen]
    outcome.already = [r for r in recipients if keys[r] in seen]
    if not fresh:
        return outcome
    targets = {r: _check_recipient(session, client, workspace, draft.giver, r, known)
               for r in fresh}
    hold_giver(session, giver)
    again, count = repeated_and_given_today(session, workspace, giver, fresh, reason, now,
                                            origin)
    outcome.already += [r for r in fresh if r in again]
    fresh = [r for r in fresh if r not in again]
    if not fresh:
        return outcome
    if count + len(fresh) > prefs.kudos_daily_cap:
        left = max(0, prefs.kudos_daily_cap - count)
        raise KudosRejected(f"You've given {count} kudos in the last 24 hours; the daily "
                            f"limit is {prefs.kudos_daily_cap} ({left} left). "
                            "Save some for tomorrow!")
    stored = insert_ties(session, ws, [
        (giver.id, targets[r].id, NewTie(source=draft.giver, target=r, kind=KIND, origin=origin,
                                         origin_key=keys[r], occurred_at=now, reason=reason,
                                         value=draft.value)) for r in fresh])
    for r in fresh:
        (outcome.stored if keys[r] in stored else outcome.already).append(r)
    return outcome


def reaction_kudos(session: Session, client: WebClient, workspace: Workspace | int, *,
                   reactor: str,
                   author: str | None, channel: str, ts: str, prefs: ProgrammeSettings,
                   now: datetime) -> bool:
    """A configured emoji on a message recognises its author. Returns True when stored.

    Reactions are quiet: a reaction that breaks a rule is simply not counted.
    """
    if not author or author == reactor:
        return False
    draft = KudosDraft(giver=reactor, recipients=(author,),
                       reason=f"reacted :{prefs.reaction_emoji}: to a message", value=None,
                       request_key=reaction_request(channel, ts, reactor))
    try:
        return bool(give_kudos(session, client, workspace, draft, prefs=prefs, now=now,
                               origin="reaction").stored)
    except KudosRejected as exc:
        log.info("reaction kudos not counted: %s", exc)
        return False


_REMOVE = delete(_TIES_T).where(_T.workspace_id == bindparam("ws"),
                                      _T.origin_key == bindparam("key"))


def remove_reaction_kudos(session: Session, workspace: Workspace | int, *, reactor: str,
                          author: str | None, channel: str, ts: str) -> bool:
    """Removing the reaction removes the tie it created."""
    if not author:
        return False
    key = kudos_key("reaction", reaction_request(channel, ts, reactor), author)
    res = session.execute(_REMOVE, {"ws": _id(workspace), "key": key})
    return bool(getattr(res, "rowcount", 0))


@dataclass(frozen=True)
class KudosItem:
    other: str
    reason: str
    value: str | None
    at: datetime


@dataclass
class KudosHistory:
    received: list[KudosItem]
    given: list[KudosItem]
    received_total: int
    given_total: int
    days: int


def kudos_history(session: Session, workspace: Workspace, slack_id: str, *, now: datetime,
                  days: int = 90, limit: int = 10) -> KudosHistory:
    """One person's kudos given and received in the last ``days`` (their App Home).

    Kudos from or to someone who opted out are left out: they are absent from colleagues'
    views as from every other output.
    """
    src, tgt = aliased(Person), aliased(Person)
    since = now - timedelta(days=days)
    base = (select(src.slack_id, tgt.slack_id, Tie.reason, Tie.value, Tie.occurred_at)
            .join(src, Tie.source_id == src.id).join(tgt, Tie.target_id == tgt.id)
            .where(Tie.workspace_id == workspace.id, Tie.kind == KIND, Tie.occurred_at >= since))

    def items(where: object, other_is_source: bool) -> tuple[list[KudosItem], int]:
        q = base.where(where)  # type: ignore[arg-type]
        total = int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)
        rows = session.execute(q.order_by(Tie.occurred_at.desc(), Tie.id.desc()).limit(limit))
        return [KudosItem(s if other_is_source else t, r or "", v, at)
                for s, t, r, v, at in rows], total

    received, rtotal = items((tgt.slack_id == slack_id) & src.opted_out.is_(False), True)
    given, gtotal = items((src.slack_id == slack_id) & tgt.opted_out.is_(False), False)
    return KudosHistory(received, given, rtotal, gtotal, days)


def announcements(outcome: KudosOutcome, prefs: ProgrammeSettings, request_key: str
                  ) -> tuple[list[Outgoing], str | None]:
    """The DM to each new recipient and the public recognition, one per stored kudos.

    Returns the messages and the key of the channel post (None when there is none).
    """
    from bot.rendering import render

    ctx = {"giver": outcome.giver, "recipients": outcome.stored, "reason": outcome.reason,
           "value": outcome.value}
    messages = [Outgoing(key=message_key("kudos-dm", outcome.origin, request_key, r),
                         channel=r, text=render("kudos_dm.j2", **ctx))
                for r in outcome.stored]
    channel_key = None
    if prefs.kudos_channel and outcome.stored:
        channel_key = message_key("kudos-post", outcome.origin, request_key,
                                  ",".join(outcome.stored))
        messages.append(Outgoing(key=channel_key, channel=prefs.kudos_channel, dm=False,
                                 text=render("kudos_channel.j2", **ctx)))
    return messages, channel_key


@dataclass(frozen=True)
class KudosGiven:
    """A stored kudos and the messages queued to announce it."""

    outcome: KudosOutcome
    prefs: ProgrammeSettings
    dm_keys: dict[str, str]  # recipient -> outbox key
    channel_key: str | None

    @property
    def keys(self) -> list[str]:
        return [*self.dm_keys.values(), *([self.channel_key] if self.channel_key else [])]


def _give_and_announce(uow: Unit, draft: KudosDraft) -> KudosGiven:
    outcome = give_kudos(uow.session, uow.slack, uow.workspace_id, draft, prefs=uow.prefs,
                         now=uow.now)
    messages, channel_key = announcements(outcome, uow.prefs, draft.request_key)
    keys = uow.send(messages)
    return KudosGiven(outcome, uow.prefs, dict(zip(outcome.stored, keys, strict=False)),
                      channel_key)


# Use cases (see bot.services): each takes the unit of work first and returns plain data.

def from_command(uow: Unit, *, giver: str, text: str, request_key: str) -> KudosGiven:
    """`/kudos ...`: parse, check every rule, store the ties and queue their messages."""
    parsed = parse_kudos_text(text, uow.prefs.kudos_values)
    if not parsed.users and not parsed.groups:
        if parsed.unlinked:
            raise KudosRejected(
                f"I couldn't tell who @{parsed.unlinked[0]} is. Pick people from Slack's "
                "@-mention list so they're linked.")
        raise NeedsHelp()
    return _give_and_announce(uow, KudosDraft(
        giver=giver, recipients=parsed.users, groups=parsed.groups, reason=parsed.reason,
        value=parsed.value, request_key=request_key))


def from_modal(uow: Unit, draft: KudosDraft) -> KudosGiven:
    """A submitted kudos modal; raises `KudosRejected` naming the field at fault."""
    return _give_and_announce(uow, draft)


# Durable `/kudos` requests ---------------------------------------------------------------

PENDING, DONE = "pending", "done"


@dataclass(frozen=True)
class KudosAnswer:
    """What came of a recorded `/kudos`: the kudos given, or why not (``help``: it named
    nobody, so the giver gets the usage text)."""

    given: KudosGiven | None = None
    refused: str | None = None
    help: bool = False

    def summary(self) -> dict[str, Any]:
        """The answer as stored with the request, for telling the giver after a restart."""
        if self.given is None:
            return {"refused": self.refused, "help": self.help}
        o = self.given.outcome
        return {"stored": o.stored, "already": o.already, "reason": o.reason, "value": o.value}


def _request(uow: Unit, request_key: str) -> Any:
    return (KudosRequest.workspace_id == uow.workspace_id) & \
        (KudosRequest.request_key == request_key)


_REQUESTS_T: Any = KudosRequest.__table__
_R = _REQUESTS_T.c
_RECORD = {name: insert(_REQUESTS_T)
           .on_conflict_do_nothing(index_elements=[_R.workspace_id, _R.request_key])
           .returning(_R.id)
           for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}
_THIS_REQUEST = (_R.workspace_id == bindparam("ws")) & (_R.request_key == bindparam("key"))
_SETTLE = update(_REQUESTS_T).where(_THIS_REQUEST)
_FORGET = delete(_REQUESTS_T).where(_THIS_REQUEST)


@one_statement
def receive_command(uow: Unit, *, giver: str, text: str, request_key: str) -> bool:
    """Record a `/kudos` before Slack is acknowledged. False when it is recorded already
    (the same command delivered twice): one INSERT that does nothing on a conflict on
    SQLite and PostgreSQL, a check and a guarded insert elsewhere."""
    session = uow.session
    record = _RECORD.get(session.get_bind().dialect.name)
    if record is not None:
        return session.execute(record, {
            "workspace_id": uow.workspace_id, "request_key": request_key, "giver": giver,
            "text": clean_text(text), "status": PENDING, "received_at": uow.now,
        }).first() is not None
    if session.scalar(select(KudosRequest.id).where(_request(uow, request_key))) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(KudosRequest(workspace_id=uow.workspace_id, request_key=request_key,
                                     giver=giver, text=clean_text(text), status=PENDING,
                                     received_at=uow.now))
    except IntegrityError:
        return False
    return True


def finish_command(uow: Unit, *, giver: str, text: str, request_key: str) -> KudosGiven:
    """Carry out a recorded `/kudos` (raising like `from_command`); the ties, their messages
    and the request marked done commit together."""
    given = from_command(uow, giver=giver, text=text, request_key=request_key)
    settle_request(uow, request_key, KudosAnswer(given=given))
    return given


@one_statement
def settle_request(uow: Unit, request_key: str, answer: KudosAnswer) -> None:
    """Mark a recorded `/kudos` done, keeping what came of it until its giver is told."""
    uow.session.execute(_SETTLE, {"ws": uow.workspace_id, "key": request_key,
                                  "status": DONE, "outcome": answer.summary()})


@one_statement
def forget_request(uow: Unit, request_key: str) -> None:
    """The giver has been answered: the record (and the text it holds) goes."""
    uow.session.execute(_FORGET, {"ws": uow.workspace_id, "key": request_key})


@one_statement
def abandon_request(uow: Unit, request_key: str) -> None:
    """Forget a request that failed before anything was stored (its giver is asked to try
    again, so finishing it later would count it twice)."""
    uow.session.execute(delete(KudosRequest).where(_request(uow, request_key),
                                                   KudosRequest.status == PENDING))


def carry_out(services: Services, *, giver: str, text: str, request_key: str,
              abandon_on_error: bool = False) -> KudosAnswer:
    """Carry out a recorded `/kudos` and mark it done, whatever the answer.

    Not a use case but a sequence of them (a refusal rolls its unit back, then is recorded
    in another). ``abandon_on_error``: on an unexpected failure the still-pending record is
    dropped, because the giver is told to try again.
    """
    try:
        return KudosAnswer(given=services.call(finish_command, giver=giver, text=text,
                                               request_key=request_key))
    except NeedsHelp:
        answer = KudosAnswer(help=True)
    except KudosRejected as exc:
        answer = KudosAnswer(refused=str(exc))
    except Exception:
        if abandon_on_error:
            services.call(abandon_request, request_key)
        raise
    services.call(settle_request, request_key, answer)
    return answer


@dataclass(frozen=True)
class Unfinished:
    request_key: str
    giver: str
    text: str
    status: str


def unfinished(uow: Unit, before: datetime) -> list[Unfinished]:
    """Requests recorded before ``before`` whose giver was never answered."""
    rows = uow.session.execute(
        select(KudosRequest.request_key, KudosRequest.giver, KudosRequest.text,
               KudosRequest.status)
        .where(KudosRequest.workspace_id == uow.workspace.id,
               KudosRequest.received_at < before)
        .order_by(KudosRequest.id))
    return [Unfinished(*row) for row in rows]


def answer_by_dm(uow: Unit, request_key: str) -> str | None:
    """Tell a giver what came of a `/kudos` they were never answered about (the process
    stopped first), by DM through the outbox; the record goes in the same transaction."""
    from bot.rendering import render

    row = uow.session.scalar(select(KudosRequest).where(_request(uow, request_key)))
    if row is None or row.status != DONE:
        return None
    outcome = {"refused": None, "help": False, "stored": [], "already": [], "reason": "",
               "value": None, **(row.outcome or {})}
    if outcome["refused"]:
        outcome["refused"] = SlackMarkup(outcome["refused"])  # built by `give_kudos`, escaped
    keys = uow.send([Outgoing(key=message_key("kudos-recovered", request_key), channel=row.giver,
                              text=render("kudos_recovered.j2", **outcome))])
    uow.session.delete(row)
    return keys[0]


def finish_unfinished(services: Services, before: datetime) -> int:
    """Carry out every `/kudos` recorded before ``before`` that a stopped process
    acknowledged but did not finish, and answer each giver by DM. Returns how many are left
    (they failed again and stay recorded for the next try). Every active tenant's, each
    with its own client.

    Run by the leader only (`bot.runtime`), with ``before`` chosen so that no live process
    is still working on what it finishes: this start (SQLite, one process), or with
    replicas the start of the longest-running live one, or two minutes ago. A request
    finished twice all the same still counts once (ties have unique origin keys)."""
    return sum(_finish_unfinished(tenant, before) for tenant in services.tenants())


def _finish_unfinished(services: Services, before: datetime) -> int:
    left = 0
    for request in services.call(unfinished, before):
        try:
            if request.status == PENDING:
                carry_out(services, giver=request.giver, text=request.text,
                          request_key=request.request_key)
            services.call(answer_by_dm, request.request_key)
        except Exception:
            log.exception("could not finish the recorded /kudos %s yet", request.request_key)
            left += 1
    return left


def on_reaction(uow: Unit, event: dict[str, object], *, removed: bool) -> bool:
    """Reaction kudos (when enabled): returns True when a tie was added or removed."""
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return False
    if not uow.prefs.reaction_kudos or event.get("reaction") != uow.prefs.reaction_emoji:
        return False
    args = {"reactor": str(event.get("user") or ""), "author": event.get("item_user"),
            "channel": str(item.get("channel") or ""), "ts": str(item.get("ts") or "")}
    if removed:
        return remove_reaction_kudos(uow.session, uow.workspace_id, **args)  # type: ignore[arg-type]
    return reaction_kudos(uow.session, uow.slack, uow.workspace_id, prefs=uow.prefs,
                          now=uow.now, **args)  # type: ignore[arg-type]


def my_kudos(uow: Unit, user_id: str, days: int = 90) -> KudosHistory:
    return kudos_history(uow.session, uow.workspace, user_id, now=uow.now, days=days)
