"""Micro-polls: the question bank, who is asked each round, answers, reminders and closing.

A round samples a fraction of people (stratified by team, least recently asked first,
at most one poll per person per ``poll_min_days_between`` days), records one request per
person and queues one DM per request in the outbox (`bot.services.outbox`); the background
sender delivers them. An answer turns into ties through `record_tie`, with origin key
``poll:{request_id}:{target}``, so a repeated click can never count twice.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from analytics.privacy import suppress, suppress_mapping
from bot import ui
from bot.errors import PeerPulseError
from bot.models import OutboxMessage, Person, PollRequest, PollRound
from bot.rendering import escape_slack
from bot.services import Unit
from bot.services.outbox import SENT, Outgoing, after_quiet_hours, enqueue
from bot.services.settings import ProgrammeSettings
from bot.services.ties import NewTie, insert_ties

MAX_NAMED = 5
NO_TEAM = "(no team)"

# action ids of the poll DM (built in bot.ui); handlers/actions.py listens for them
PICK, NOBODY, PAUSE, RESUME = ui.POLL_PICK, ui.POLL_NOBODY, ui.POLL_PAUSE, ui.POLL_RESUME


@dataclass(frozen=True)
class Question:
    key: str
    kind: str
    text: str


QUESTIONS: dict[str, Question] = {q.key: q for q in (
    Question("helped", "helped", "Who helped you this week?"),
    Question("advice", "advice", "Who did you go to for advice?"),
    Question("energy", "energy", "Who gave you energy at work?"),
    Question("adopted", "adopted", "Whose idea or way of working did you take up?"),
)}


# ---------------------------------------------------------------------- errors

class PollError(PeerPulseError):
    """A poll answer or round that cannot be taken; the message is shown to the user."""


class UnknownQuestion(PollError):
    def __init__(self, key: str) -> None:
        super().__init__(f"There is no poll question {key!r}; known: {', '.join(QUESTIONS)}.")


class UnknownPoll(PollError):
    def __init__(self) -> None:
        super().__init__("PeerPulse cannot find that poll any more. Nothing was recorded.")


class NotYourPoll(PollError):
    def __init__(self) -> None:
        super().__init__("That poll was sent to someone else, so your click was not counted.")


class AlreadyAnswered(PollError):
    def __init__(self) -> None:
        super().__init__("You already answered this poll, thank you! Your first answer stands "
                         "and nothing was added.")


class PollClosed(PollError):
    def __init__(self) -> None:
        super().__init__("This poll has closed, so answers are no longer counted. "
                         "You will get a new one in a later round.")


class InvalidNominee(PollError):
    """Someone named cannot be counted: oneself, a bot, a deactivated or unknown account."""


class NobodyToAsk(PollError):
    """Nobody can be asked now, so no round is opened; the message says why."""


class TooManyNamed(PollError):
    def __init__(self) -> None:
        super().__init__(f"Please name at most {MAX_NAMED} people. Nothing was recorded yet.")


# ---------------------------------------------------------------------- schedule

@dataclass(frozen=True)
class Cadence:
    day_of_week: str
    hour: int
    minute: int


def parse_schedule(specs: Sequence[str]) -> dict[str, Cadence]:
    """``"helped=mon 10:00"`` entries to cron fields (days in APScheduler syntax; ``|`` for
    lists, e.g. ``mon|thu``).

    >>> parse_schedule(["helped=mon|thu 9:30"])["helped"]
    Cadence(day_of_week='mon,thu', hour=9, minute=30)
    """
    out: dict[str, Cadence] = {}
    for spec in specs:
        key, sep, rest = spec.partition("=")
        key = key.strip()
        parts = rest.split()
        if not sep or key not in QUESTIONS or len(parts) != 2 or ":" not in parts[1]:
            raise ValueError(f"bad poll schedule {spec!r}: expected e.g. 'helped=mon 10:00'")
        hour, _, minute = parts[1].partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(f"bad time in poll schedule {spec!r}")
        out[key] = Cadence(parts[0].replace("|", ",").lower(), int(hour), int(minute))
    return out


def enabled_schedule(prog: ProgrammeSettings) -> dict[str, Cadence]:
    """Cadence of every enabled question (an enabled question without one is not scheduled)."""
    schedule = parse_schedule(prog.poll_schedule)
    return {k: schedule[k] for k in prog.poll_questions if k in schedule and k in QUESTIONS}


# ---------------------------------------------------------------------- sampling

@dataclass(frozen=True)
class Candidate:
    person_id: int
    slack_id: str
    first_name: str
    team: str
    last_asked: datetime | None
    tz: str | None = None


def _first_name(real_name: str, display_name: str) -> str:
    name = (display_name or real_name or "").strip()
    return name.split()[0] if name else ""


def choose_sample(session: Session, workspace_id: int, fraction: float, now: datetime,
                  min_days_between: float, salt: str = "") -> list[Candidate]:
    """Who to ask this round.

    The round size is ``ceil(fraction * pollable people)`` (pollable: active, not opted out,
    not paused), split across teams in proportion to their size (largest remainder). Within
    a team the least recently asked go first (never asked before anyone), ties broken by a
    hash of ``salt`` and the person so each round breaks them differently. Nobody asked in
    the last ``min_days_between`` days is chosen; a team short of eligible people leaves its
    places to the least recently asked elsewhere. Repeated rounds therefore reach everyone.
    """
    last = (select(PollRequest.person_id, func.max(PollRequest.asked_at).label("last"))
            .group_by(PollRequest.person_id).subquery())
    rows = session.execute(
        select(Person.id, Person.slack_id, Person.real_name, Person.display_name, Person.team,
               last.c.last, Person.tz)
        .outerjoin(last, last.c.person_id == Person.id)
        .where(Person.workspace_id == workspace_id, Person.is_active.is_(True),
               Person.is_deleted.is_(False), Person.opted_out.is_(False),
               Person.polls_paused.is_(False))).all()
    pollable = [Candidate(pid, sid, _first_name(rn, dn), team or NO_TEAM, la, tz)
                for pid, sid, rn, dn, team, la, tz in rows]
    if not pollable:
        return []
    target = min(len(pollable), max(1, math.ceil(fraction * len(pollable) - 1e-9)))
    cutoff = now - timedelta(days=min_days_between)

    def order(c: Candidate) -> tuple[int, datetime, str]:
        tie = hashlib.sha1(f"{salt}:{c.slack_id}".encode()).hexdigest()
        return (0 if c.last_asked is None else 1, c.last_asked or now, tie)

    by_team: dict[str, list[Candidate]] = defaultdict(list)
    for c in pollable:
        by_team[c.team].append(c)
    exact = {t: target * len(members) / len(pollable) for t, members in by_team.items()}
    quota = {t: math.floor(v) for t, v in exact.items()}
    for t in sorted(exact, key=lambda t: (quota[t] - exact[t], t))[:target - sum(quota.values())]:
        quota[t] += 1
    chosen: list[Candidate] = []
    leftovers: list[Candidate] = []
    for team, members in sorted(by_team.items()):
        eligible = sorted((c for c in members if c.last_asked is None or c.last_asked <= cutoff),
                          key=order)
        chosen.extend(eligible[:quota[team]])
        leftovers.extend(eligible[quota[team]:])
    if len(chosen) < target:
        chosen.extend(sorted(leftovers, key=order)[:target - len(chosen)])
    return chosen


# ---------------------------------------------------------------------- messages

@dataclass(frozen=True)
class Answered:
    request_id: int
    question: Question
    answer: str  # named | nobody | paused | resumed
    named: tuple[str, ...] = ()


# ---------------------------------------------------------------------- rounds

@dataclass(frozen=True)
class RoundOpened:
    round_id: int
    question: str
    asked: int
    queued: int
    created: bool
    closes_at: datetime


def open_round(session: Session, workspace_id: int, prog: ProgrammeSettings, question: str,
               now: datetime, *, trigger: str = "schedule", round_key: str | None = None,
               sample: float | None = None) -> RoundOpened:
    """Open a round of ``question``: choose people, record requests, queue their DMs.

    ``round_key`` makes opening idempotent (a scheduled run is keyed by its fire time, so
    a job that fires twice opens one round).
    """
    q = QUESTIONS.get(question)
    if q is None:
        raise UnknownQuestion(question)
    round_key = round_key or f"{trigger}:{question}:{now.isoformat()}"
    existing = session.scalar(select(PollRound).where(
        PollRound.workspace_id == workspace_id, PollRound.round_key == round_key))
    if existing is not None:
        asked = session.scalar(select(func.count()).select_from(PollRequest)
                               .where(PollRequest.round_id == existing.id)) or 0
        return RoundOpened(existing.id, existing.question, int(asked), 0, False,
                           existing.closes_at)
    fraction = prog.poll_sample_fraction if sample is None else sample
    if not 0 < fraction <= 1:
        raise PollError("The sample must be a fraction between 0 and 1, e.g. 0.25.")
    chosen = choose_sample(session, workspace_id, fraction, now, prog.poll_min_days_between,
                           salt=round_key)
    if not chosen:
        raise NobodyToAsk(_why_nobody(session, workspace_id, now, prog.poll_min_days_between))
    closes_at = now + timedelta(days=prog.poll_close_days)
    poll_round = PollRound(
        workspace_id=workspace_id, round_key=round_key, question=q.key, kind=q.kind,
        trigger=trigger, sample_fraction=fraction, opened_at=now,
        remind_at=now + timedelta(days=prog.poll_reminder_days), closes_at=closes_at)
    session.add(poll_round)
    session.flush()
    session.execute(insert(PollRequest), [
        {"round_id": poll_round.id, "person_id": c.person_id, "team": c.team,
         "asked_at": now, "named_count": 0} for c in chosen])
    ids = {person_id: request_id for person_id, request_id in session.execute(
        select(PollRequest.person_id, PollRequest.id)
        .where(PollRequest.round_id == poll_round.id))}
    messages = []
    for c in chosen:
        request_id = ids[c.person_id]
        text, blocks = ui.poll_message(request_id, q.text, c.first_name, closes_at,
                                       max_named=MAX_NAMED)
        messages.append(Outgoing(key=f"poll:{request_id}", channel=c.slack_id, text=text,
                                 blocks=blocks, poll_request_id=request_id,
                                 expires_at=closes_at,
                                 not_before=after_quiet_hours(now, c.tz, prog.quiet_hours)))
    queued = enqueue(session, workspace_id, messages, now)
    return RoundOpened(poll_round.id, q.key, len(chosen), queued, True, closes_at)


def _why_nobody(session: Session, workspace_id: int, now: datetime, min_days: float) -> str:
    """Why `choose_sample` found nobody: who is out of reach, and for which reason."""
    people = select(Person).where(Person.workspace_id == workspace_id,
                                  Person.is_active.is_(True), Person.is_deleted.is_(False))
    active = session.scalar(select(func.count()).select_from(people.subquery())) or 0
    if not active:
        return ("Nobody can be asked, so no round was opened: no people are known yet (the "
                "bot syncs the roster when it starts; or run `peerpulse roster sync`).")
    opted_out = session.scalar(select(func.count()).select_from(
        people.where(Person.opted_out.is_(True)).subquery())) or 0
    paused = session.scalar(select(func.count()).select_from(
        people.where(Person.opted_out.is_(False), Person.polls_paused.is_(True)).subquery())) or 0
    recent = active - opted_out - paused
    return (f"Nobody can be asked now, so no round was opened: of {active} people, "
            f"{opted_out} opted out, {paused} paused their polls and {recent} were asked in "
            f"the last {min_days:g} days (PEERPULSE_POLL_MIN_DAYS_BETWEEN).")


def start_round(uow: Unit, question: str | None = None, *, trigger: str = "schedule",
                round_key: str | None = None, sample: float | None = None) -> RoundOpened:
    """The one entry point of the schedule and of ``peerpulse poll send-now``.

    Without ``question`` the first enabled question is used.
    """
    if question is None:
        if not uow.prefs.poll_questions:
            raise PollError("No poll question is enabled (PEERPULSE_POLL_QUESTIONS).")
        question = uow.prefs.poll_questions[0]
    return open_round(uow.session, uow.workspace.id, uow.prefs, question, uow.now,
                      trigger=trigger, round_key=round_key, sample=sample)


def scheduled_round(uow: Unit, question: str) -> RoundOpened:
    """A scheduled round, keyed by question and local day: a double fire opens one."""
    from zoneinfo import ZoneInfo

    local_day = uow.now.astimezone(ZoneInfo(uow.settings.timezone)).date().isoformat()
    return start_round(uow, question, trigger="schedule",
                       round_key=f"schedule:{question}:{local_day}")


# ---------------------------------------------------------------------- answers

def _load_request(session: Session, workspace_id: int, request_id: int, user_id: str
                  ) -> tuple[PollRequest, PollRound, Person]:
    found = session.execute(
        select(PollRequest, PollRound, Person)
        .join(PollRound, PollRound.id == PollRequest.round_id)
        .join(Person, Person.id == PollRequest.person_id)
        .where(PollRequest.id == request_id, PollRound.workspace_id == workspace_id)).first()
    if found is None:
        raise UnknownPoll()
    request, poll_round, person = found[0], found[1], found[2]
    if person.slack_id != user_id:
        raise NotYourPoll()
    return request, poll_round, person


# The statements of a poll answer, built once, over plain table columns (tuples back).
_REQUESTS_T: Any = PollRequest.__table__
_ROUNDS_T: Any = PollRound.__table__
_PEOPLE_T: Any = Person.__table__
_RQ, _RD, _PP = _REQUESTS_T.c, _ROUNDS_T.c, _PEOPLE_T.c
_ANSWERING = (
    select(_RQ.id, _RQ.answered_at, _RD.closed_at, _RD.closes_at, _RD.question, _RD.kind,
           _PP.id, _PP.slack_id)
    .join(_ROUNDS_T, _RD.id == _RQ.round_id).join(_PEOPLE_T, _PP.id == _RQ.person_id)
    .where(_RQ.id == bindparam("request_id"), _RD.workspace_id == bindparam("ws")))
_NOMINEES = select(_PP.slack_id, _PP.id, _PP.is_active, _PP.is_deleted, _PP.opted_out).where(
    _PP.workspace_id == bindparam("ws"), _PP.slack_id.in_(bindparam("slack_ids", expanding=True)))
_ANSWER = (update(_REQUESTS_T)
           .where(_RQ.id == bindparam("request_id"), _RQ.answered_at.is_(None)))


def answer_poll(session: Session, workspace_id: int, request_id: int, user_id: str,
                now: datetime, *, named: Sequence[str] = (), nobody: bool = False
                ) -> Answered:
    """Record ``user_id``'s answer to request ``request_id``: the people named, or nobody.

    Refusals raise a `PollError` before anything is written. The request is marked
    answered by a conditional UPDATE, so of two simultaneous clicks only one counts.
    """
    found = session.execute(_ANSWERING, {"request_id": request_id, "ws": workspace_id}).first()
    if found is None:
        raise UnknownPoll()
    rid, answered_at, closed_at, closes_at, question_id, kind, my_id, my_slack_id = found
    if my_slack_id != user_id:
        raise NotYourPoll()
    if answered_at is not None:
        raise AlreadyAnswered()
    if closed_at is not None or now >= closes_at:
        raise PollClosed()
    targets: list[tuple[str, int, bool]] = []  # (slack id, person id, opted out)
    if not nobody:
        wanted = list(dict.fromkeys(str(n) for n in named if n))
        if len(wanted) > MAX_NAMED:
            raise TooManyNamed()
        if my_slack_id in wanted:
            raise InvalidNominee("You cannot name yourself, but thank you for helping! "
                                 "Pick the colleagues who helped you.")
        people = {row[0]: row for row in session.execute(
            _NOMINEES, {"ws": workspace_id, "slack_ids": wanted})} if wanted else {}
        refused = [uid for uid in wanted
                   if uid not in people or not people[uid][2] or people[uid][3]]
        if refused:
            _refuse(refused)
        targets = [(uid, people[uid][1], bool(people[uid][4])) for uid in wanted]
        if not targets:
            raise InvalidNominee("Choose at least one person, or press \"Nobody this time\".")
    won = session.execute(_ANSWER, {"request_id": rid, "answered_at": now,
                                    "answer": "nobody" if nobody else "named",
                                    "named_count": len(targets)})
    if getattr(won, "rowcount", 0) != 1:
        raise AlreadyAnswered()
    # Those who left the programme are left out: the answer counts, the tie is not kept.
    insert_ties(session, workspace_id, [
        (my_id, person_id, NewTie(source=my_slack_id, target=slack_id, kind=kind,
                                  origin="poll", origin_key=f"poll:{rid}:{slack_id}",
                                  occurred_at=now))
        for slack_id, person_id, opted_out in targets if not opted_out])
    return Answered(rid, QUESTIONS[question_id], "nobody" if nobody else "named",
                    tuple(slack_id for slack_id, _, _ in targets))


def _refuse(refused: Sequence[str]) -> None:
    # Ids come from the click, so a forged one is escaped, never echoed as markup.
    who = ", ".join(f"<@{escape_slack(uid)}>" for uid in refused)
    raise InvalidNominee(f"PeerPulse can only count active colleagues, not bots, apps or "
                         f"deactivated accounts: {who}. Nothing was recorded yet; please "
                         f"choose again.")


def set_paused(session: Session, workspace_id: int, request_id: int, user_id: str,
               now: datetime, *, paused: bool) -> Answered:
    """Pause (or resume) polls for the person a poll was sent to."""
    request, poll_round, me = _load_request(session, workspace_id, request_id, user_id)
    me.polls_paused = paused
    if paused and request.answered_at is None:
        request.answered_at, request.answer = now, "paused"
    return Answered(request.id, QUESTIONS[poll_round.question],
                    "paused" if paused else "resumed")


def submit_answer(uow: Unit, request_id: int, user_id: str, *, named: Sequence[str] = (),
                  nobody: bool = False) -> Answered:
    """A click in a poll DM: the people picked, or "Nobody this time"."""
    return answer_poll(uow.session, uow.workspace_id, request_id, user_id, uow.now,
                       named=named, nobody=nobody)


def submit_pause(uow: Unit, request_id: int, user_id: str, *, paused: bool = True
                 ) -> Answered:
    return set_paused(uow.session, uow.workspace.id, request_id, user_id, uow.now,
                      paused=paused)


def request_id_from(block_id: str | None, value: str | None = None) -> int:
    """The poll request id carried by a poll DM's action (``poll:{id}`` block id, or value)."""
    for raw in (value, (block_id or "").partition("poll:")[2]):
        if raw and str(raw).isdigit():
            return int(raw)
    raise UnknownPoll()


# ---------------------------------------------------------------------- reminders, closing

@dataclass(frozen=True)
class RoundStats:
    round_id: int
    question: str
    opened_at: datetime
    closed: bool
    asked: int
    delivered: int
    answered: int
    response_rate: float | None
    by_team: dict[str, float | None]


@dataclass(frozen=True)
class Maintenance:
    reminders: int
    closed: list[RoundStats]


def remind_and_close(session: Session, workspace_id: int, now: datetime,
                     min_group_size: int = 5, quiet: str = "off") -> Maintenance:
    """Queue the one reminder of each due round to those who have not answered, and close
    rounds past their closing time. Safe to run as often as wanted."""
    reminders = 0
    due = session.scalars(select(PollRound).where(
        PollRound.workspace_id == workspace_id, PollRound.closed_at.is_(None),
        PollRound.reminded_at.is_(None), PollRound.remind_at <= now,
        PollRound.closes_at > now)).all()
    for poll_round in due:
        q = QUESTIONS[poll_round.question]
        rows = session.execute(
            select(PollRequest.id, Person.slack_id, Person.real_name, Person.display_name,
                   Person.tz)
            .join(Person, Person.id == PollRequest.person_id)
            .join(OutboxMessage, and_(OutboxMessage.poll_request_id == PollRequest.id,
                                      OutboxMessage.idempotency_key.like("poll:%")))
            .where(PollRequest.round_id == poll_round.id, PollRequest.answered_at.is_(None),
                   PollRequest.reminded_at.is_(None), OutboxMessage.status == SENT,
                   Person.is_active.is_(True), Person.opted_out.is_(False),
                   Person.polls_paused.is_(False))).all()
        messages = []
        for request_id, slack_id, real_name, display_name, tz in rows:
            text, blocks = ui.poll_message(
                request_id, q.text, _first_name(real_name, display_name),
                poll_round.closes_at, max_named=MAX_NAMED, reminder=True)
            messages.append(Outgoing(key=f"poll-reminder:{request_id}", channel=slack_id,
                                     text=text, blocks=blocks, poll_request_id=request_id,
                                     expires_at=poll_round.closes_at,
                                     not_before=after_quiet_hours(now, tz, quiet)))
        reminders += enqueue(session, workspace_id, messages, now)
        if rows:
            session.execute(update(PollRequest)
                            .where(PollRequest.id.in_([r[0] for r in rows]))
                            .values(reminded_at=now))
        poll_round.reminded_at = now
    closing = session.scalars(select(PollRound).where(
        PollRound.workspace_id == workspace_id, PollRound.closed_at.is_(None),
        PollRound.closes_at <= now)).all()
    closed = []
    for poll_round in closing:
        poll_round.closed_at = now
        session.flush()
        closed.append(round_stats(session, poll_round.id, min_group_size))
    return Maintenance(reminders, closed)


def maintenance(uow: Unit) -> Maintenance:
    """The scheduled check: due reminders queued, rounds past their time closed."""
    return remind_and_close(uow.session, uow.workspace.id, uow.now, uow.prefs.min_group_size,
                            uow.prefs.quiet_hours)


def round_stats(session: Session, round_id: int, min_group_size: int = 5) -> RoundStats:
    """Response rate of a round overall and per team; a team with fewer than
    ``min_group_size`` people asked shows no figure (the small-group rule)."""
    poll_round = session.get(PollRound, round_id)
    if poll_round is None:
        raise UnknownPoll()
    delivered = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.idempotency_key.like("poll:%"), OutboxMessage.status == SENT,
            OutboxMessage.poll_request_id.in_(
                select(PollRequest.id).where(PollRequest.round_id == round_id)))) or 0
    asked_by: dict[str, int] = defaultdict(int)
    answered_by: dict[str, int] = defaultdict(int)
    for team, answered_at in session.execute(
            select(PollRequest.team, PollRequest.answered_at)
            .where(PollRequest.round_id == round_id)):
        key = team or NO_TEAM
        asked_by[key] += 1
        answered_by[key] += answered_at is not None
    asked, answered = sum(asked_by.values()), sum(answered_by.values())
    rates = {t: answered_by[t] / n for t, n in asked_by.items()}
    overall = suppress(answered / asked, asked, min_group_size) if asked else None
    return RoundStats(
        round_id=round_id, question=poll_round.question, opened_at=poll_round.opened_at,
        closed=poll_round.closed_at is not None, asked=asked, delivered=int(delivered),
        answered=answered, response_rate=overall,
        by_team=dict(sorted(suppress_mapping(rates, asked_by, min_group_size).items())))


def recent_rounds(session: Session, workspace_id: int, limit: int = 10,
                  min_group_size: int = 5) -> list[RoundStats]:
    ids = session.scalars(select(PollRound.id).where(PollRound.workspace_id == workspace_id)
                          .order_by(PollRound.opened_at.desc(), PollRound.id.desc())
                          .limit(limit)).all()
    return [round_stats(session, i, min_group_size) for i in ids]


def status(uow: Unit, limit: int = 10) -> tuple[list[RoundStats], dict[str, int]]:
    """`peerpulse poll status`: recent rounds (small teams suppressed) and the outbox."""
    from bot.services.outbox import status_counts

    return (recent_rounds(uow.session, uow.workspace.id, limit, uow.prefs.min_group_size),
            status_counts(uow.session, uow.workspace.id))
