"""Peer recognition: `/kudos`, the kudos modal and reaction kudos become `recognised` ties.

Every rule lives here (self-kudos, bots, deactivated or unknown people, at most 10
recipients, reason length, the giver's daily cap), each raising a `KudosRejected` whose
message is shown to the giver and whose ``field`` names the modal input it concerns.
A kudos is stored once per (request, recipient): the origin key is built from Slack's
own id for the request (trigger id, view id, reacted message), so retries never count twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from bot.errors import PeerPulseError
from bot.models import Person, Tie, Workspace
from bot.services import Unit
from bot.services.delivery import message_key
from bot.services.outbox import Outgoing
from bot.services.roster import apply_user, is_person
from bot.services.settings import ProgrammeSettings
from bot.services.ties import NewTie, record_tie
from bot.ui import MAX_RECIPIENTS

log = logging.getLogger(__name__)

KIND = "recognised"


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
    value is the value, and ``#channel`` links that match a value count too.

    >>> p = parse_kudos_text("<@U1|ann> <!subteam^S9|@ops> for the fix #teamwork", ["teamwork"])
    >>> p.users, p.groups, p.reason, p.value
    (('U1',), ('S9',), 'for the fix', 'teamwork')
    """
    text = text.strip()
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
    if values and tags and value is None:
        choices = ", ".join(f"#{v}" for v in values)
        raise KudosRejected(f"#{tags[0]} is not one of the values: {choices}.", field="value")
    if value is not None:
        rest = HASHTAG.sub(lambda m: "" if m.group(1).lower() in by_lower else m.group(0), rest)
    unlinked = tuple(PLAIN_AT.findall(rest)) if not users and not groups else ()
    reason = unescape_slack(re.sub(r"\s+", " ", rest).strip(" -:,"))
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
            raise KudosRejected(f"I can't find <@{slack_id}> in this workspace.") from None
        raise
    if not is_person(user):
        return None
    return apply_user(session, workspace, user)


def _check_recipient(session: Session, client: WebClient, workspace: Workspace, giver: str,
                     slack_id: str) -> None:
    if slack_id == giver:
        raise KudosRejected("Kudos are for other people — you can't recognise yourself. "
                            "Who helped you?")
    person = resolve_person(session, client, workspace, slack_id)
    if person is None:
        raise KudosRejected(f"<@{slack_id}> is a bot; kudos are for people.")
    if not person.is_active:
        raise KudosRejected(f"<@{slack_id}> is deactivated and can't receive kudos.")
    if person.opted_out:
        raise KudosRejected(f"<@{slack_id}> doesn't take part in PeerPulse, so I can't record "
                            "kudos for them.")


def given_today(session: Session, workspace: Workspace, giver: Person, now: datetime) -> int:
    """Kudos ties given in the 24 hours before ``now`` (the daily cap's count)."""
    return int(session.scalar(
        select(func.count(Tie.id)).where(
            Tie.workspace_id == workspace.id, Tie.source_id == giver.id, Tie.kind == KIND,
            Tie.created_at >= now - timedelta(days=1))) or 0)


def give_kudos(session: Session, client: WebClient, workspace: Workspace, draft: KudosDraft,
               *, prefs: ProgrammeSettings, now: datetime, origin: str = "kudos") -> KudosOutcome:
    """Check every rule, then store one `recognised` tie per recipient (idempotently)."""
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
    reason = draft.reason.strip()
    if not reason:
        raise KudosRejected("Add a reason — say what they did, e.g. "
                            "`/kudos @alex for untangling the release`.", field="reason")
    if len(reason) > prefs.kudos_reason_max:
        raise KudosRejected(f"The reason is {len(reason)} characters; keep it under "
                            f"{prefs.kudos_reason_max}.", field="reason")
    if draft.value is not None and draft.value not in prefs.kudos_values:
        raise KudosRejected(f"{draft.value} is not one of the values.", field="value")

    giver = resolve_person(session, client, workspace, draft.giver)
    if giver is None or not giver.is_active:
        raise KudosRejected("Only active people can give kudos.")
    if giver.opted_out:
        raise KudosRejected("You've opted out of PeerPulse; `/network optin` to give kudos "
                            "again.")
    outcome = KudosOutcome(giver=draft.giver, reason=reason, value=draft.value, origin=origin)
    keys = {r: kudos_key(origin, draft.request_key, r) for r in recipients}
    seen = set(session.scalars(select(Tie.origin_key).where(
        Tie.workspace_id == workspace.id, Tie.origin_key.in_(list(keys.values())))))
    fresh = [r for r in recipients if keys[r] not in seen]
    outcome.already = [r for r in recipients if keys[r] in seen]
    if not fresh:
        return outcome
    for r in fresh:
        _check_recipient(session, client, workspace, draft.giver, r)
    count = given_today(session, workspace, giver, now)
    if count + len(fresh) > prefs.kudos_daily_cap:
        left = max(0, prefs.kudos_daily_cap - count)
        raise KudosRejected(f"You've given {count} kudos in the last 24 hours; the daily "
                            f"limit is {prefs.kudos_daily_cap} ({left} left). "
                            "Save some for tomorrow!")
    for r in fresh:
        tie = NewTie(source=draft.giver, target=r, kind=KIND, origin=origin,
                     origin_key=keys[r], occurred_at=now, reason=reason, value=draft.value)
        if record_tie(session, workspace, tie):
            outcome.stored.append(r)
        else:
            outcome.already.append(r)
    return outcome


def reaction_kudos(session: Session, client: WebClient, workspace: Workspace, *, reactor: str,
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


def remove_reaction_kudos(session: Session, workspace: Workspace, *, reactor: str,
                          author: str | None, channel: str, ts: str) -> bool:
    """Removing the reaction removes the tie it created."""
    if not author:
        return False
    key = kudos_key("reaction", reaction_request(channel, ts, reactor), author)
    res = session.execute(delete(Tie).where(Tie.workspace_id == workspace.id,
                                            Tie.origin_key == key))
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
    outcome = give_kudos(uow.session, uow.slack, uow.workspace, draft, prefs=uow.prefs,
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
        return remove_reaction_kudos(uow.session, uow.workspace, **args)  # type: ignore[arg-type]
    return reaction_kudos(uow.session, uow.slack, uow.workspace, prefs=uow.prefs,
                          now=uow.now, **args)  # type: ignore[arg-type]


def my_kudos(uow: Unit, user_id: str, days: int = 90) -> KudosHistory:
    return kudos_history(uow.session, uow.workspace, user_id, now=uow.now, days=days)
