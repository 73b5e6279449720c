"""Champions: the weekly digest in the champion channels, a personal nudge to each champion,
the buttons on each suggestion, the measured effect of the nudges, and who the champions are.

- The digest (`send_digest`) carries aggregates only: participation and response rate, new
  ties and their cross-team share, champion reach and its trend, the teams and communities
  nobody reaches, public kudos in numbers, and a picture of reach by team. Opted-out people
  are counted nowhere and no figure is shown for a group under the minimum size.
- A nudge (`send_nudges`) goes to each champion at most once a week, queued in the outbox
  to arrive inside their working hours in their own Slack timezone, and only when there is
  something worth saying. Its suggestions come from `analytics.suggestions` (aimed by
  network position, never saying who named whom); each one that could be made is withheld
  at random with the holdout share and recorded either way.
- `answer_suggestion` records Done / Snooze / Not useful, which the next nudges use.
- `measure_effect` compares how often a tie followed a shown and a withheld suggestion
  within 30 days, with confidence intervals.

The schedule and `peerpulse digest|nudge send-now` share these use cases. Every decision is
a database row, so the frequency caps hold across restarts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from analytics.champions import coverage
from analytics.model import Analysis, AnalysisOptions
from analytics.pipeline import analyze
from analytics.privacy import suppress
from analytics.suggestions import (
    Candidate,
    Effect,
    follow_through,
    followed,
    kind_weights,
    suggest,
    withheld,
)
from bot.config import parse_cadence, parse_working_hours
from bot.errors import PeerPulseError
from bot.models import (
    ChampionDigest,
    Nudge,
    OutboxMessage,
    Person,
    PollRequest,
    Suggestion,
    Tie,
    Workspace,
)
from bot.services import Unit
from bot.services.outbox import Outgoing
from bot.services.ties import analysis_inputs

log = logging.getLogger(__name__)

#: At most one nudge per champion in this many days.
NUDGE_CAP = timedelta(days=7)
#: A scheduled digest or nudge missed by more than this (the bot was down) waits a week.
GRACE = timedelta(days=2)
#: How long a tie may take to follow a suggestion and still count.
FOLLOW_UP_DAYS = 30
#: "Snooze" brings a suggestion back after this long.
SNOOZE = timedelta(days=14)
#: A person marked "Not useful" (or done) is not suggested to that champion again for this long.
QUIET_AFTER_ANSWER = timedelta(days=90)
#: Someone added to the roster this long after the install, and this recently, is a newcomer.
NEWCOMER_AFTER_INSTALL = timedelta(days=1)
NEWCOMER_DAYS = 30
#: A nudge not delivered this long after its moment is stale and is dropped.
NUDGE_LIFETIME = timedelta(days=3)
DIGEST_DAYS = 7
MAX_SUGGESTIONS = 3
ANSWERS = {"done": "done", "snooze": "snoozed", "not_useful": "not_useful"}


class ChampionError(PeerPulseError):
    """A champion action that cannot be taken; the message is shown to the person."""


class NotYourSuggestion(ChampionError):
    def __init__(self) -> None:
        super().__init__("That suggestion was made to someone else, so nothing was recorded.")


class ChampionsFromGroup(ChampionError):
    def __init__(self, group: str) -> None:
        super().__init__(f"Champions come from the Slack user group <!subteam^{group}>: add or "
                         "remove people there and PeerPulse follows within 15 minutes.")


# ---------------------------------------------------------------------- time

def _zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def week_moment(now: datetime, cadence: tuple[int, int, int], tz: str) -> datetime:
    """The weekly moment ``cadence`` (weekday, hour, minute) inside the ISO week (Monday to
    Sunday, in timezone ``tz``) that holds ``now``; returned in UTC.

    >>> from datetime import datetime, UTC
    >>> week_moment(datetime(2026, 1, 7, 12, tzinfo=UTC), (0, 9, 0), "UTC").isoformat()
    '2026-01-05T09:00:00+00:00'
    >>> week_moment(datetime(2026, 1, 7, 12, tzinfo=UTC), (4, 16, 30), "UTC").isoformat()
    '2026-01-09T16:30:00+00:00'
    """
    zone = _zone(tz)
    local = now.astimezone(zone)
    day, hour, minute = cadence
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday + timedelta(days=day), time(hour, minute),
                            tzinfo=zone).astimezone(UTC)


def period_of(now: datetime, schedule: str, tz: str) -> tuple[str, datetime | None]:
    """(period, this period's scheduled moment) for ``now``: the period is the ISO week in
    ``tz``, whatever the cadence, so `send-now` and the schedule share it; the moment is
    None when the cadence is ``off``.

    >>> from datetime import datetime, UTC
    >>> period_of(datetime(2026, 1, 7, 12, tzinfo=UTC), "mon 09:00", "UTC")
    ('2026-W02', datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.timezone.utc))
    >>> period_of(datetime(2026, 1, 7, 12, tzinfo=UTC), "off", "UTC")
    ('2026-W02', None)
    """
    year, week, _ = now.astimezone(_zone(tz)).isocalendar()
    cadence = parse_cadence(schedule)
    moment = None if cadence is None else week_moment(now, cadence, tz)
    return f"{year}-W{week:02d}", moment


def _due(now: datetime, moment: datetime | None) -> bool:
    """A scheduled run is due once its moment has passed, for ``GRACE`` (a bot that was
    down longer waits for next week rather than send late)."""
    return moment is not None and moment <= now <= moment + GRACE


def next_working_moment(now: datetime, tz: str | None, hours: str,
                        fallback_tz: str = "UTC") -> datetime | None:
    """When a message queued at ``now`` may reach someone in ``tz`` inside ``hours``
    (e.g. ``"mon-fri 9-17"``): None when now is inside them, else the next start (UTC).

    >>> from datetime import datetime, UTC
    >>> sat = datetime(2026, 1, 10, 12, tzinfo=UTC)
    >>> next_working_moment(sat, "Europe/London", "mon-fri 9-17").isoformat()
    '2026-01-12T09:00:00+00:00'
    >>> next_working_moment(datetime(2026, 1, 12, 15, tzinfo=UTC), "America/New_York",
    ...                     "mon-fri 9-17") is None
    True
    >>> next_working_moment(sat, "Asia/Tokyo", "off") is None
    True
    """
    rule = parse_working_hours(hours)
    if rule is None:
        return None
    days, start, end = rule
    zone = _zone(tz, fallback_tz)
    local = now.astimezone(zone)
    if local.weekday() in days and start <= local.hour < end:
        return None
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in days:
            continue
        moment = datetime.combine(day, time(start), tzinfo=zone)
        if moment > local:
            return moment.astimezone(UTC)
    return None  # pragma: no cover - some weekday is always within eight days


# ---------------------------------------------------------------------- shared reads

def _analyse(uow: Unit, now: datetime | None = None) -> Analysis:
    """The current window, analysed without the costly what-if (not needed here)."""
    ties, people = analysis_inputs(uow.session, uow.workspace)
    options = AnalysisOptions(window_days=float(uow.prefs.analysis_window_days),
                              now=now or uow.now, min_group_size=uow.prefs.min_group_size,
                              champions_k=1, diffusion_runs=1, diffusion_steps=1)
    return analyze(ties, people, options)


def _champions(session: Session, workspace_id: int) -> list[Person]:
    return list(session.scalars(select(Person).where(
        Person.workspace_id == workspace_id, Person.is_champion.is_(True),
        Person.is_active.is_(True), Person.is_deleted.is_(False),
        Person.opted_out.is_(False)).order_by(Person.slack_id)))


def full_name(person: Person) -> str:
    """The unambiguous name (files and the CLI): the full name, never a first name alone."""
    return person.real_name or person.name or person.display_name or person.slack_id


# ---------------------------------------------------------------------- the digest

@dataclass(frozen=True)
class DigestResult:
    period: str
    channels: list[str]
    queued: list[str]  # channels a digest was queued for now
    already: list[str]  # channels that had this period's digest already
    figures: dict[str, Any]
    text: str
    blocks: list[dict[str, Any]]
    picture: Path | None
    dry_run: bool = False
    due: bool = True


def _public_kudos(session: Session, workspace_id: int, start: datetime, end: datetime,
                  min_size: int) -> dict[str, Any]:
    src, tgt = aliased(Person), aliased(Person)
    rows = session.execute(
        select(src.id, tgt.id, src.team, tgt.team, Tie.value)
        .join(src, Tie.source_id == src.id).join(tgt, Tie.target_id == tgt.id)
        .where(Tie.workspace_id == workspace_id, Tie.kind == "recognised",
               Tie.occurred_at >= start, Tie.occurred_at < end,
               src.opted_out.is_(False), tgt.opted_out.is_(False))).all()
    givers = {r[0] for r in rows}
    receivers = {r[1] for r in rows}
    values = Counter(r[4] for r in rows if r[4])
    return {
        "kudos": len(rows),
        "kudos_cross_team": sum(1 for r in rows if r[2] and r[3] and r[2] != r[3]),
        "kudos_givers": suppress(len(givers), len(givers), min_size),
        "kudos_receivers": suppress(len(receivers), len(receivers), min_size),
        "values": [[v, n] for v, n in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))][:3],
    }


def _new_ties(session: Session, workspace_id: int, start: datetime, end: datetime
              ) -> tuple[int, float | None]:
    """Pairs tied for the first time in [start, end), and the share across formal teams."""
    src, tgt = aliased(Person), aliased(Person)
    first = (select(Tie.source_id, Tie.target_id, func.min(Tie.occurred_at).label("first"))
             .where(Tie.workspace_id == workspace_id).group_by(Tie.source_id, Tie.target_id)
             .subquery())
    rows = session.execute(
        select(src.team, tgt.team)
        .select_from(first)
        .join(src, first.c.source_id == src.id).join(tgt, first.c.target_id == tgt.id)
        .where(first.c.first >= start, first.c.first < end, src.opted_out.is_(False),
               tgt.opted_out.is_(False), src.id != tgt.id)).all()
    known = [(a, b) for a, b in rows if a and b]
    share = sum(1 for a, b in known if a != b) / len(known) if known else None
    return len(rows), share


def _participation(session: Session, workspace_id: int, start: datetime, end: datetime,
                   min_size: int) -> dict[str, Any]:
    people = set(session.scalars(select(Person.id).where(
        Person.workspace_id == workspace_id, Person.is_active.is_(True),
        Person.is_deleted.is_(False), Person.opted_out.is_(False))))
    asked = session.execute(
        select(PollRequest.person_id, PollRequest.answer)
        .join(Person, Person.id == PollRequest.person_id)
        .where(Person.workspace_id == workspace_id, PollRequest.asked_at >= start,
               PollRequest.asked_at < end, Person.opted_out.is_(False))).all()
    answered = {pid for pid, answer in asked if answer in ("named", "nobody")}
    gave = set(session.scalars(select(Tie.source_id).where(
        Tie.workspace_id == workspace_id, Tie.occurred_at >= start, Tie.occurred_at < end,
        Tie.origin.in_(("kudos", "reaction")))))
    taking_part = (answered | gave) & people
    return {
        "people": len(people),
        "participation": suppress(len(taking_part) / len(people) if people else None,
                                  len(people), min_size),
        "asked": len(asked),
        "answered": sum(1 for _, a in asked if a in ("named", "nobody")),
        "response_rate": suppress(
            (sum(1 for _, a in asked if a in ("named", "nobody")) / len(asked))
            if asked else None, len(asked), min_size),
    }


def digest_figures(uow: Unit, analysis: Analysis | None = None) -> dict[str, Any]:
    """This period's aggregates (the last seven days), as stored and shown."""
    from analytics.suggestions import unreached_groups

    end = uow.now
    start = end - timedelta(days=DIGEST_DAYS)
    size = uow.prefs.min_group_size
    analysis = analysis or _analyse(uow)
    result = analysis.result
    G = analysis.graph
    champions = sorted(n for n in G if G.nodes[n].get("champion"))
    teams = {p.id: p.team for p in result.people if p.team}
    communities = {p.id: p.community for p in result.people}
    unreached = unreached_groups(G, champions, teams, communities, size)
    new, cross = _new_ties(uow.session, uow.workspace.id, start, end)
    cov = result.network.champion_coverage
    return {
        "start": start.isoformat(), "end": end.isoformat(), "days": DIGEST_DAYS,
        **_participation(uow.session, uow.workspace.id, start, end, size),
        "new_ties": new, "cross_team_share": cross,
        "champions": len(champions),
        "reach_one": cov.one_step, "reach_two": cov.two_step,
        "teams": len([t for t in result.teams if not t.suppressed]),
        "unreached": [{"kind": g.kind, "label": g.label, "size": g.size} for g in unreached],
        **_public_kudos(uow.session, uow.workspace.id, start, end, size),
        "min_group_size": size,
    }


def _trend(session: Session, workspace_id: int, before: str) -> list[float | None]:
    rows = session.scalars(
        select(ChampionDigest).where(ChampionDigest.workspace_id == workspace_id,
                                     ChampionDigest.period < before)
        .order_by(ChampionDigest.period.desc()).limit(5))
    return [r.figures.get("reach_two") for r in rows][::-1]


def _digest_picture(uow: Unit, analysis: Analysis, period: str) -> Path:
    from analytics.report.champion_map import draw_team_reach
    from bot.files import private_dir, private_files

    data = Path(uow.settings.data_dir).resolve()
    folder = private_dir(data / "digests" / period, within=data)
    path = folder / "champion-reach.png"
    draw_team_reach(analysis.result, path)
    private_files([path])
    return path


def send_digest(uow: Unit, *, trigger: str = "schedule", dry_run: bool = False) -> DigestResult:
    """This period's digest to every champion channel (`peerpulse digest send-now` and the
    schedule). A channel that already has this period's digest is not posted to again."""
    from bot import ui

    prefs = uow.prefs
    period, _ = period_of(uow.now, prefs.digest_schedule, uow.settings.timezone)
    channels = list(prefs.champion_channels)
    stored = uow.session.scalar(select(ChampionDigest).where(
        ChampionDigest.workspace_id == uow.workspace.id, ChampionDigest.period == period))
    analysis = _analyse(uow) if stored is None or dry_run else None
    figures = dict(stored.figures) if stored is not None and not dry_run else \
        digest_figures(uow, analysis)
    trend = _trend(uow.session, uow.workspace.id, period)
    text, blocks = ui.digest_message(figures, trend, period)
    if dry_run:
        return DigestResult(period, channels, [], [], figures, text, blocks, None, True)
    if stored is None:
        try:
            with uow.session.begin_nested():  # a concurrent run may record it first
                uow.session.add(ChampionDigest(workspace_id=uow.workspace.id, period=period,
                                               trigger=trigger, figures=figures,
                                               created_at=uow.now))
        except IntegrityError:
            pass  # the outbox keys below keep each channel to one post either way
    picture: Path | None = None
    queued: list[str] = []
    already: list[str] = []
    for channel in channels:
        key = f"digest:{period}:{channel}"
        if uow.session.scalar(select(OutboxMessage.id)
                              .where(OutboxMessage.idempotency_key == key)) is not None:
            already.append(channel)
            continue
        if picture is None:
            picture = _digest_picture(uow, analysis or _analyse(uow), period)
        uow.send([
            Outgoing(key=key, channel=channel, dm=False, text=text, blocks=blocks),
            Outgoing(key=f"digest-picture:{period}:{channel}", channel=channel, dm=False,
                     text=ui.digest_picture_comment(figures), files=(str(picture),)),
        ])
        queued.append(channel)
    return DigestResult(period, channels, queued, already, figures, text, blocks, picture)


def scheduled_digest(uow: Unit) -> DigestResult | None:
    """The schedule's digest: when this period's moment has passed (by less than the grace)
    and it has not been posted yet."""
    period, moment = period_of(uow.now, uow.prefs.digest_schedule, uow.settings.timezone)
    if not _due(uow.now, moment) or not uow.prefs.champion_channels:
        return None
    exists = uow.session.scalar(select(ChampionDigest.id).where(
        ChampionDigest.workspace_id == uow.workspace.id, ChampionDigest.period == period))
    if exists is not None:
        return None
    return send_digest(uow, trigger="schedule")


# ---------------------------------------------------------------------- nudges

@dataclass(frozen=True)
class Shown:
    """One suggestion as the champion sees it (``id`` once recorded)."""

    kind: str
    subject: str
    subject_team: str | None
    subject_name: str
    other: str | None = None
    other_team: str | None = None
    other_name: str | None = None
    group: str | None = None
    group_kind: str | None = None
    id: int | None = None
    again: bool = False  # brought back after a snooze


@dataclass
class NudgePlan:
    """What one champion gets this period, or why they get nothing."""

    champion: str
    name: str
    team: str | None
    tz: str
    period: str
    action: str  # send | skip
    reason: str  # "" | nothing_to_say | capped | decided
    reach_one: float | None = None
    reach_two: float | None = None
    reach_before: float | None = None
    shown: list[Shown] = field(default_factory=list)
    withheld: list[Shown] = field(default_factory=list)
    deliver_after: datetime | None = None
    last_nudged: datetime | None = None
    next_allowed: datetime | None = None
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    nudge_id: int | None = None
    outbox_key: str | None = None


def _history(session: Session, champion_ids: list[int], now: datetime
             ) -> tuple[dict[int, set[tuple[str, int]]], dict[int, dict[str, tuple[int, int]]],
                        dict[int, list[Suggestion]]]:
    """Per champion: (kind, person id) pairs blocked now, feedback per kind, snoozes due."""
    blocked: dict[int, set[tuple[str, int]]] = defaultdict(set)
    answers: dict[int, Counter[tuple[str, str]]] = defaultdict(Counter)
    due: dict[int, list[Suggestion]] = defaultdict(list)
    if not champion_ids:
        return blocked, {}, due
    rows = session.scalars(select(Suggestion).where(Suggestion.champion_id.in_(champion_ids))
                           .order_by(Suggestion.created_at, Suggestion.id))
    recent = now - timedelta(days=FOLLOW_UP_DAYS)
    for s in rows:
        people = [s.subject_id] + ([s.other_id] if s.other_id else [])
        answers[s.champion_id][(s.kind, s.status)] += 1
        answered = s.acted_at is not None and s.acted_at > now - QUIET_AFTER_ANSWER
        for pid in people:
            if s.created_at > recent:  # one suggestion per person in flight, whatever kind
                blocked[s.champion_id].add(("*", pid))
            if s.status == "not_useful" and answered:
                blocked[s.champion_id].add(("*", pid))
            elif s.status == "done" and answered:
                blocked[s.champion_id].add((s.kind, pid))
            elif s.status == "snoozed" and s.snoozed_until and s.snoozed_until > now:
                blocked[s.champion_id].add(("*", pid))
        if s.status == "snoozed" and s.snoozed_until and s.snoozed_until <= now:
            due[s.champion_id].append(s)
    feedback = {cid: {kind: (c[(kind, "done")], c[(kind, "not_useful")])
                      for kind, _ in c} for cid, c in answers.items()}
    return blocked, feedback, due


def _newcomers(session: Session, workspace: Workspace, now: datetime) -> list[str]:
    installed = workspace.created_at + NEWCOMER_AFTER_INSTALL
    since = max(installed, now - timedelta(days=NEWCOMER_DAYS))
    return list(session.scalars(select(Person.slack_id).where(
        Person.workspace_id == workspace.id, Person.created_at >= since,
        Person.is_active.is_(True), Person.opted_out.is_(False))))


def _shown(c: Candidate | Suggestion, people: dict[str, Person], by_id: dict[int, Person],
           *, again: bool = False) -> Shown:
    if isinstance(c, Suggestion):
        subject = by_id[c.subject_id]
        other = by_id.get(c.other_id) if c.other_id else None
        group_kind, _, group = (c.group_label or "").partition(":")
        return Shown(c.kind, subject.slack_id, subject.team, full_name(subject),
                     other.slack_id if other else None, other.team if other else None,
                     full_name(other) if other else None, group or None, group_kind or None,
                     id=c.id, again=again)
    subject = people[c.subject]
    other = people.get(c.other) if c.other else None
    return Shown(c.kind, c.subject, subject.team, full_name(subject),
                 c.other, other.team if other else None, full_name(other) if other else None,
                 c.group, c.group_kind)


def plan_nudges(uow: Unit, *, scheduled: bool = False) -> list[NudgePlan]:
    """Decide, without writing anything, what each champion gets this period."""
    from bot import ui

    prefs, now = uow.prefs, uow.now
    period, moment = period_of(now, prefs.nudge_schedule, uow.settings.timezone)
    if scheduled and not _due(now, moment):
        return []
    champions = _champions(uow.session, uow.workspace.id)
    if not champions:
        return []
    ids = [c.id for c in champions]
    decided = {n.champion_id: n for n in uow.session.scalars(select(Nudge).where(
        Nudge.champion_id.in_(ids), Nudge.period == period))}
    last_sent = dict(uow.session.execute(
        select(Nudge.champion_id, func.max(Nudge.created_at))
        .where(Nudge.champion_id.in_(ids), Nudge.status == "sent")
        .group_by(Nudge.champion_id)).all())
    last_reach = {cid: r for cid, r in uow.session.execute(
        select(Nudge.champion_id, Nudge.reach_two)
        .where(Nudge.champion_id.in_(ids), Nudge.status == "sent")
        .order_by(Nudge.created_at))}
    plans: list[NudgePlan] = []
    open_: list[Person] = []
    for c in champions:
        base = NudgePlan(c.slack_id, full_name(c), c.team, c.tz or uow.settings.timezone,
                         period, "skip", "")
        last = last_sent.get(c.id)
        if c.id in decided:
            n = decided[c.id]
            base.reason, base.last_nudged = "decided", n.created_at
            base.outbox_key = n.outbox_key if n.status == "sent" else None
            plans.append(base)
        elif last is not None and now - last < NUDGE_CAP:
            base.reason, base.last_nudged, base.next_allowed = "capped", last, last + NUDGE_CAP
            plans.append(base)
        else:
            base.last_nudged = last
            plans.append(base)
            open_.append(c)
    if not open_:
        return plans

    analysis = _analyse(uow)
    G = analysis.graph
    everyone = {p.slack_id: p for p in uow.session.scalars(select(Person).where(
        Person.workspace_id == uow.workspace.id))}
    by_id = {p.id: p for p in everyone.values()}
    blocked_ids, feedback, snoozes = _history(uow.session, [c.id for c in open_], now)
    blocked = {by_id[cid].slack_id: {(k, by_id[pid].slack_id) for k, pid in pairs}
               for cid, pairs in blocked_ids.items()}
    weights = {by_id[cid].slack_id: kind_weights(f) for cid, f in feedback.items()}
    result = analysis.result
    candidates = suggest(
        G, [c.slack_id for c in open_],
        teams={p.id: p.team for p in result.people if p.team},
        communities={p.id: p.community for p in result.people},
        newcomers=_newcomers(uow.session, uow.workspace, now), blocked=blocked,
        weights=weights, per_champion=MAX_SUGGESTIONS,
        min_group_size=prefs.min_group_size)
    salt = uow.workspace.slack_team_id
    hours = prefs.working_hours
    for plan in plans:
        c = everyone[plan.champion]
        if c not in open_:
            continue
        again = [s for s in snoozes.get(c.id, [])
                 if all(by_id[p].is_active and not by_id[p].opted_out
                        for p in (s.subject_id, s.other_id) if p)][:MAX_SUGGESTIONS]
        fresh = candidates.get(c.slack_id, [])[:MAX_SUGGESTIONS - len(again)]
        plan.shown = [_shown(s, everyone, by_id, again=True) for s in again]
        for cand in fresh:
            key = f"{period}:{cand.champion}:{cand.kind}:{':'.join(cand.people)}"
            (plan.withheld if withheld(key, prefs.nudge_holdout, salt) else plan.shown).append(
                _shown(cand, everyone, by_id))
        if c.slack_id in G:
            plan.reach_one = coverage(G, [c.slack_id], steps=1)
            plan.reach_two = coverage(G, [c.slack_id], steps=2)
        plan.reach_before = last_reach.get(c.id)
        plan.deliver_after = next_working_moment(now, c.tz, hours, uow.settings.timezone)
        if plan.shown:
            plan.action, plan.reason = "send", ""
            plan.text, plan.blocks = ui.nudge_message(plan)
        else:
            plan.reason = "nothing_to_say"
    return plans


def _record(uow: Unit, plan: NudgePlan, trigger: str) -> None:
    """Store one decision and its suggestions, and queue the DM (ids go into the buttons)."""
    from bot import ui

    everyone = {p.slack_id: p for p in uow.session.scalars(select(Person).where(
        Person.workspace_id == uow.workspace.id,
        Person.slack_id.in_([plan.champion]
                            + [s.subject for s in plan.shown + plan.withheld]
                            + [s.other for s in plan.shown + plan.withheld if s.other])))}
    champion = everyone[plan.champion]
    nudge = Nudge(workspace_id=uow.workspace.id, champion_id=champion.id, period=plan.period,
                  trigger=trigger, status="sent" if plan.action == "send" else "skipped",
                  reason=plan.reason or None, reach_one=plan.reach_one,
                  reach_two=plan.reach_two, deliver_after=plan.deliver_after,
                  created_at=uow.now)
    with uow.session.begin_nested():
        uow.session.add(nudge)
        uow.session.flush()  # the unique (champion, period) stops a concurrent second one
    recorded: list[Shown] = []
    for arm, items in (("shown", plan.shown), ("withheld", plan.withheld)):
        for s in items:
            if s.id is not None:  # back after a snooze: the same suggestion, shown again
                row = uow.session.get(Suggestion, s.id)
                if row is not None:
                    row.status, row.snoozed_until = "open", None
                recorded.append(s)
                continue
            row = Suggestion(
                workspace_id=uow.workspace.id, nudge_id=nudge.id, champion_id=champion.id,
                kind=s.kind, subject_id=everyone[s.subject].id,
                other_id=everyone[s.other].id if s.other else None,
                group_label=f"{s.group_kind}:{s.group}" if s.group_kind and s.group else None,
                arm=arm, status="open", created_at=uow.now)
            uow.session.add(row)
            uow.session.flush()
            if arm == "shown":
                recorded.append(dataclasses.replace(s, id=row.id))
    if plan.action != "send":
        return
    plan.shown = recorded
    plan.text, plan.blocks = ui.nudge_message(plan)
    key = f"nudge:{nudge.id}"
    moment = plan.deliver_after or uow.now
    uow.send([Outgoing(key=key, channel=plan.champion, text=plan.text, blocks=plan.blocks,
                       not_before=plan.deliver_after, expires_at=moment + NUDGE_LIFETIME)])
    nudge.outbox_key = key
    plan.nudge_id, plan.outbox_key = nudge.id, key


def _who(name: str | None, team: str | None) -> str:
    return f"{name} ({team})" if team else str(name)


def describe(item: Shown) -> str:
    """One suggestion in plain words with full names and teams (the CLI, files)."""
    subject = _who(item.subject_name, item.subject_team)
    if item.kind == "say_hello":
        return f"say hello to {subject}, who joined recently and has no ties yet"
    if item.kind == "introduce_yourself":
        where = (f"the {item.group} team" if item.group_kind == "team" else
                 f"a group working closely together, mostly in {item.group}")
        return f"introduce yourself to {subject}: nobody reaches {where}"
    if item.kind == "thank":
        return f"thank {subject}, who helps many and was never recognised"
    return (f"introduce {subject} and {_who(item.other_name, item.other_team)}, who each "
            "reach a group the other does not")


def _when(moment: datetime, tz: str) -> str:
    return f"{moment.astimezone(_zone(tz)):%a %d %b %H:%M} {tz}"


def describe_plan(plan: NudgePlan, *, dry_run: bool = False) -> str:
    """Why a champion gets a nudge now, later, or not at all (the CLI's line)."""
    who = _who(plan.name, plan.team)
    if plan.action == "send":
        held = f", {len(plan.withheld)} withheld at random (the holdout)" if plan.withheld else ""
        when = ("goes out now" if plan.deliver_after is None else
                f"waits for their working hours: {_when(plan.deliver_after, plan.tz)}")
        verb = "would send" if dry_run else "nudge queued"
        count = len(plan.shown)
        return (f"{verb} to {who}: {count} suggestion{'s' if count != 1 else ''} "
                f"shown{held}; {when}")
    if plan.reason == "capped" and plan.last_nudged and plan.next_allowed:
        return (f"skipped {who}: already nudged {plan.last_nudged:%Y-%m-%d %H:%M} UTC; at most "
                f"one nudge a week (next from {plan.next_allowed:%Y-%m-%d %H:%M} UTC)")
    if plan.reason == "decided" and plan.last_nudged:
        what = "nudged" if plan.outbox_key else "decided there was nothing worth saying"
        return (f"skipped {who}: already {what} for this period "
                f"({plan.last_nudged:%Y-%m-%d %H:%M} UTC)")
    held = f" ({len(plan.withheld)} withheld at random)" if plan.withheld else ""
    return f"skipped {who}: nothing worth saying this week{held}"


def plain_text(blocks: list[dict[str, Any]]) -> str:
    """The words of a Block Kit message, for a terminal."""
    lines = []
    for block in blocks:
        text = block.get("text") or {}
        if isinstance(text, dict) and text.get("text"):
            lines.append(str(text["text"]))
        for element in block.get("elements") or []:
            if element.get("type") in ("mrkdwn", "plain_text"):
                lines.append(str(element.get("text") or ""))
    return "\n".join(lines).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def send_nudges(uow: Unit, *, trigger: str = "schedule", dry_run: bool = False,
                scheduled: bool = False) -> list[NudgePlan]:
    """Each champion's nudge for this period, queued to arrive in their working hours
    (`peerpulse nudge send-now` and the schedule); the plans say who was skipped and why.
    ``dry_run`` decides and renders without recording or sending anything."""
    plans = plan_nudges(uow, scheduled=scheduled)
    if dry_run:
        return plans
    for plan in plans:
        if plan.reason in ("capped", "decided"):
            continue
        try:
            _record(uow, plan, trigger)
        except IntegrityError:  # another process decided this champion meanwhile
            plan.action, plan.reason = "skip", "decided"
    return plans


def scheduled_nudges(uow: Unit) -> list[NudgePlan]:
    """The schedule's nudges: only once this period's moment has passed (within the grace)."""
    return send_nudges(uow, trigger="schedule", scheduled=True)


# ---------------------------------------------------------------------- the buttons

@dataclass(frozen=True)
class SuggestionAnswer:
    suggestion_id: int
    answer: str  # done | snoozed | not_useful
    kind: str
    snoozed_until: datetime | None


def answer_suggestion(uow: Unit, suggestion_id: int, user_id: str, answer: str
                      ) -> SuggestionAnswer:
    """Done / Snooze / Not useful on one suggestion, by the champion it was made to."""
    status = ANSWERS.get(answer)
    row = uow.session.get(Suggestion, suggestion_id)
    if status is None or row is None or row.workspace_id != uow.workspace.id:
        raise ChampionError("PeerPulse cannot find that suggestion any more.")
    champion = uow.session.get(Person, row.champion_id)
    if champion is None or champion.slack_id != user_id or row.arm != "shown":
        raise NotYourSuggestion()
    row.status, row.acted_at = status, uow.now
    row.snoozed_until = uow.now + SNOOZE if status == "snoozed" else None
    return SuggestionAnswer(row.id, status, row.kind, row.snoozed_until)


def suggestion_id_from(block_id: str | None, value: str | None = None) -> int:
    for raw in (value, (block_id or "").partition("suggestion:")[2]):
        if raw and str(raw).isdigit():
            return int(raw)
    raise ChampionError("PeerPulse cannot find that suggestion any more.")


# ---------------------------------------------------------------------- the effect

@dataclass(frozen=True)
class EffectReport:
    effect: Effect
    by_kind: dict[str, Effect]
    answered: dict[str, int]  # shown suggestions by the champion's answer
    window_days: int
    holdout: float


def measure_effect(uow: Unit, now: datetime | None = None) -> EffectReport:
    """How often a tie (or a kudos) between the champion and the person suggested (for
    ``introduce_them``: between the two people) followed within 30 days, for shown and for
    withheld suggestions. Suggestions involving someone who has since opted out are left
    out of both arms."""
    now = now or uow.now
    champ, subj, other = aliased(Person), aliased(Person), aliased(Person)
    rows = uow.session.execute(
        select(Suggestion.arm, Suggestion.kind, Suggestion.status, Suggestion.created_at,
               Suggestion.champion_id, Suggestion.subject_id, Suggestion.other_id)
        .join(champ, champ.id == Suggestion.champion_id)
        .join(subj, subj.id == Suggestion.subject_id)
        .outerjoin(other, other.id == Suggestion.other_id)
        .where(Suggestion.workspace_id == uow.workspace.id, champ.opted_out.is_(False),
               subj.opted_out.is_(False),
               or_(Suggestion.other_id.is_(None), other.opted_out.is_(False)))).all()
    pairs: list[tuple[int, int]] = [(a, b) if k != "introduce_them" or o is None else (b, o)
                                    for _, k, _, _, a, b, o in rows]
    times: dict[frozenset[int], list[datetime]] = defaultdict(list)
    if rows:
        people = {p for pair in pairs for p in pair}
        earliest = min(r[3] for r in rows)
        for s, t, at in uow.session.execute(
                select(Tie.source_id, Tie.target_id, Tie.occurred_at)
                .where(Tie.workspace_id == uow.workspace.id, Tie.occurred_at > earliest,
                       and_(Tie.source_id.in_(people), Tie.target_id.in_(people)))):
            times[frozenset((s, t))].append(at)
    outcomes: list[tuple[str, bool | None]] = []
    kinds: dict[str, list[tuple[str, bool | None]]] = defaultdict(list)
    answered: Counter[str] = Counter()
    for (arm, kind, status, created, *_), pair in zip(rows, pairs, strict=True):
        outcome = followed(created, times.get(frozenset(pair), ()), now, FOLLOW_UP_DAYS)
        outcomes.append((arm, outcome))
        kinds[kind].append((arm, outcome))
        if arm == "shown":
            answered[status] += 1
    return EffectReport(follow_through(outcomes),
                        {k: follow_through(v) for k, v in sorted(kinds.items())},
                        dict(answered), FOLLOW_UP_DAYS, uow.prefs.nudge_holdout)


def champion_effect(uow: Unit, requester: str) -> EffectReport:
    """`/network champions` and the snapshot: the measured effect, for programme owners."""
    from bot.services.network import require_owner

    require_owner(uow, requester)
    return measure_effect(uow)


# ---------------------------------------------------------------------- who the champions are

def change_champion(uow: Unit, requester: str, person_id: str, on: bool) -> str:
    """`/network champion add|remove @x`: refused when a Slack user group is the source."""
    from bot.services import network

    network.require_owner(uow, requester)
    if uow.settings.champion_usergroup:
        raise ChampionsFromGroup(uow.settings.champion_usergroup)
    return network.change_champion(uow, requester, person_id, on)


@dataclass(frozen=True)
class GroupSync:
    group: str
    members: int
    added: list[str]
    removed: list[str]


def sync_champion_group(uow: Unit) -> GroupSync | None:
    """Make the champions the members of ``PEERPULSE_CHAMPION_USERGROUP`` (when set)."""
    from bot.services.network import audit

    group = uow.settings.champion_usergroup
    if not group:
        return None
    members = {str(u) for u in (uow.slack.usergroups_users_list(usergroup=group)
                                .get("users") or [])}
    added: list[str] = []
    removed: list[str] = []
    for person in uow.session.scalars(select(Person).where(
            Person.workspace_id == uow.workspace.id,
            or_(Person.is_champion.is_(True), Person.slack_id.in_(members)))):
        wanted = person.slack_id in members
        if person.is_champion != wanted:
            person.is_champion = wanted
            (added if wanted else removed).append(person.slack_id)
    if added or removed:
        audit(uow.session, uow.workspace, "usergroup", "champion.sync",
              {"group": group, "added": added, "removed": removed})
    return GroupSync(group, len(members), added, removed)
