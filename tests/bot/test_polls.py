"""Poll rounds on SQLite and PostgreSQL: sampling, answers, reminders, closing, statistics."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.config import load_settings
from bot.models import OutboxMessage, Person, PollRequest, Tie, Workspace
from bot.services import polls
from bot.services.polls import (
    AlreadyAnswered,
    InvalidNominee,
    PollClosed,
    TooManyNamed,
    UnknownQuestion,
    answer_poll,
    choose_sample,
    open_round,
    parse_schedule,
    remind_and_close,
    round_stats,
    set_paused,
)
from bot.services.roster import apply_user
from bot.services.settings import ProgrammeSettings
from bot.services.workspace import ensure_workspace

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
TEAMS = {"Red": 12, "Blue": 8, "Green": 4}


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    db.upgrade(database_url)
    return db.make_session_factory(db.make_engine(database_url))


def prog(**changes: object) -> ProgrammeSettings:
    return dataclasses.replace(ProgrammeSettings.defaults(load_settings(None)), **changes)  # type: ignore[arg-type]


def seed(session: Session) -> Workspace:
    ws = ensure_workspace(session, "T1", "Acme")
    n = 0
    for team, size in TEAMS.items():
        for _ in range(size):
            n += 1
            person = apply_user(session, ws, {"id": f"U{n:03d}", "name": f"p{n}",
                                              "real_name": f"Person {n}"})
            assert person is not None
            person.team = team
    session.flush()
    return ws


def slack_ids(session: Session, round_id: int) -> list[str]:
    return list(session.scalars(select(Person.slack_id).join(
        PollRequest, PollRequest.person_id == Person.id).where(PollRequest.round_id == round_id)))


def request_of(session: Session, round_id: int, slack_id: str) -> int:
    return int(session.scalars(select(PollRequest.id).join(
        Person, PollRequest.person_id == Person.id).where(
        PollRequest.round_id == round_id, Person.slack_id == slack_id)).one())


def test_schedule_specs_parse_and_bad_ones_are_refused() -> None:
    assert parse_schedule(["advice=wed 9:05"])["advice"] == polls.Cadence("wed", 9, 5)
    for bad in ("helped", "nosuch=mon 10:00", "helped=mon", "helped=mon 25:00"):
        with pytest.raises(ValueError):
            parse_schedule([bad])


def test_a_round_is_stratified_by_team_and_queues_one_dm_each(
        sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        opened = open_round(s, ws.id, prog(poll_sample_fraction=0.5), "helped", T0)
        assert opened.asked == opened.queued == 12
        teams = Counter(s.scalars(select(PollRequest.team)))
        assert teams == {"Red": 6, "Blue": 4, "Green": 2}
        keys = set(s.scalars(select(OutboxMessage.idempotency_key)))
        assert len(keys) == 12 and all(k.startswith("poll:") for k in keys)
        again = open_round(s, ws.id, prog(), "helped", T0, round_key=f"schedule:helped:{T0}")
        assert again.created
        same = open_round(s, ws.id, prog(), "helped", T0, round_key=f"schedule:helped:{T0}")
        assert not same.created and same.round_id == again.round_id


def test_unknown_question_is_refused(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        with pytest.raises(UnknownQuestion):
            open_round(s, ws.id, prog(), "lunch", T0)


def test_rounds_reach_everyone_least_recently_asked_first_within_the_cap(
        sessions: sessionmaker[Session]) -> None:
    everyone = {f"U{i:03d}" for i in range(1, 25)}
    asked: list[set[str]] = []
    with db.transaction(sessions) as s:
        ws = seed(s)
        for week in range(4):
            r = open_round(s, ws.id, prog(poll_sample_fraction=0.25), "helped",
                           T0 + timedelta(days=7 * week))
            asked.append(set(slack_ids(s, r.round_id)))
    assert [len(a) for a in asked] == [6, 6, 6, 6]
    assert set().union(*asked) == everyone, "four rounds of a quarter reach everyone"
    for a, b in itertools.pairwise(asked):
        assert not a & b, "nobody is asked twice within 14 days"


def test_the_cap_can_leave_a_round_short(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        open_round(s, ws.id, prog(poll_sample_fraction=0.75), "helped", T0)
        second = open_round(s, ws.id, prog(poll_sample_fraction=0.75), "helped",
                            T0 + timedelta(days=3))
        assert second.asked == 6  # only the 6 not asked three days ago are eligible


def test_paused_opted_out_and_deactivated_people_are_never_asked(
        sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        people = {p.slack_id: p for p in s.scalars(select(Person))}
        people["U001"].polls_paused = True
        people["U002"].opted_out = True
        people["U003"].is_active = False
        s.flush()
        chosen = {c.slack_id for c in choose_sample(s, ws.id, 1.0, T0, 14)}
        assert chosen == {f"U{i:03d}" for i in range(4, 25)}


def test_an_answer_records_poll_ties_once(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        r = open_round(s, ws.id, prog(poll_sample_fraction=1.0), "advice", T0)
        rid = request_of(s, r.round_id, "U001")
        result = answer_poll(s, ws.id, rid, "U001", T0, named=["U002", "U003", "U002"])
        assert result.answer == "named" and result.named == ("U002", "U003")
        with pytest.raises(AlreadyAnswered):
            answer_poll(s, ws.id, rid, "U001", T0, named=["U004"])
        with pytest.raises(AlreadyAnswered):
            answer_poll(s, ws.id, rid, "U001", T0, nobody=True)
        ties = s.scalars(select(Tie)).all()
        assert sorted(t.origin_key for t in ties) == [f"poll:{rid}:U002", f"poll:{rid}:U003"]
        assert {(t.kind, t.origin) for t in ties} == {("advice", "poll")}


def test_refusals_record_nothing_and_leave_the_poll_open(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        s.scalars(select(Person).where(Person.slack_id == "U005")).one().is_active = False
        r = open_round(s, ws.id, prog(poll_sample_fraction=1.0), "helped", T0)
        rid = request_of(s, r.round_id, "U001")
        with pytest.raises(InvalidNominee, match="yourself"):
            answer_poll(s, ws.id, rid, "U001", T0, named=["U001", "U002"])
        for bad in ("UBOT", "USLACKBOT", "U005"):
            with pytest.raises(InvalidNominee, match="bots"):
                answer_poll(s, ws.id, rid, "U001", T0, named=["U002", bad])
        with pytest.raises(InvalidNominee) as forged:
            answer_poll(s, ws.id, rid, "U001", T0, named=["U002", "U9><!channel>"])
        assert "<@U9&gt;&lt;!channel&gt;>" in str(forged.value), "a forged id is escaped"
        assert "<!channel>" not in str(forged.value)
        with pytest.raises(TooManyNamed):
            answer_poll(s, ws.id, rid, "U001", T0, named=[f"U{i:03d}" for i in range(2, 8)])
        with pytest.raises(polls.NotYourPoll):
            answer_poll(s, ws.id, rid, "U002", T0, named=["U003"])
        assert s.scalar(select(func.count(Tie.id))) == 0
        assert answer_poll(s, ws.id, rid, "U001", T0, nobody=True).answer == "nobody"
        assert s.scalar(select(func.count(Tie.id))) == 0


def test_answers_after_closing_are_refused(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        r = open_round(s, ws.id, prog(poll_sample_fraction=1.0, poll_close_days=5), "helped", T0)
        rid = request_of(s, r.round_id, "U001")
        with pytest.raises(PollClosed):
            answer_poll(s, ws.id, rid, "U001", T0 + timedelta(days=5), named=["U002"])
        remind_and_close(s, ws.id, T0 + timedelta(days=6))
        with pytest.raises(PollClosed):
            answer_poll(s, ws.id, rid, "U001", T0 + timedelta(days=1), named=["U002"])


def test_pause_stops_future_polls_and_resume_brings_them_back(
        sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        r = open_round(s, ws.id, prog(poll_sample_fraction=1.0), "helped", T0)
        rid = request_of(s, r.round_id, "U001")
        assert set_paused(s, ws.id, rid, "U001", T0, paused=True).answer == "paused"
        later = T0 + timedelta(days=30)
        assert "U001" not in {c.slack_id for c in choose_sample(s, ws.id, 1.0, later, 14)}
        set_paused(s, ws.id, rid, "U001", T0, paused=False)
        assert "U001" in {c.slack_id for c in choose_sample(s, ws.id, 1.0, later, 14)}


def test_one_reminder_to_those_who_got_the_poll_and_did_not_answer(
        sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        p = prog(poll_sample_fraction=1.0, poll_reminder_days=2, poll_close_days=5)
        r = open_round(s, ws.id, p, "helped", T0)
        for row in s.scalars(select(OutboxMessage)):
            row.status = "sent" if row.channel != "U024" else "failed"
        answer_poll(s, ws.id, request_of(s, r.round_id, "U001"), "U001", T0, nobody=True)
        assert remind_and_close(s, ws.id, T0 + timedelta(days=1)).reminders == 0
        assert remind_and_close(s, ws.id, T0 + timedelta(days=2)).reminders == 22
        assert remind_and_close(s, ws.id, T0 + timedelta(days=3)).reminders == 0
        reminded = set(s.scalars(select(OutboxMessage.channel).where(
            OutboxMessage.idempotency_key.like("poll-reminder:%"))))
        assert "U001" not in reminded and "U024" not in reminded and len(reminded) == 22


def test_closing_reports_response_rates_with_the_small_group_rule(
        sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed(s)
        r = open_round(s, ws.id, prog(poll_sample_fraction=1.0, poll_close_days=5), "helped", T0)
        for n in range(1, 7):  # six of Red's twelve
            answer_poll(s, ws.id, request_of(s, r.round_id, f"U{n:03d}"), f"U{n:03d}", T0,
                        nobody=True)
        answer_poll(s, ws.id, request_of(s, r.round_id, "U021"), "U021", T0, nobody=True)
        done = remind_and_close(s, ws.id, T0 + timedelta(days=5))
        assert [c.round_id for c in done.closed] == [r.round_id]
        stats = done.closed[0]
        assert stats.closed and stats.asked == 24 and stats.answered == 7
        assert stats.response_rate == pytest.approx(7 / 24)
        assert stats.by_team == {"Blue": 0.0, "Green": None, "Red": 0.5}
        assert round_stats(s, r.round_id, min_group_size=3).by_team["Green"] == 0.25


def test_poll_dms_opened_during_quiet_hours_wait_for_the_morning(
        sessions: sessionmaker[Session]) -> None:
    from sqlalchemy import update

    with db.transaction(sessions) as s:
        ws = seed(s)
        s.execute(update(Person).values(tz="Europe/London"))
        night = datetime(2026, 11, 2, 22, 0, tzinfo=UTC)
        polls.open_round(s, ws.id, prog(quiet_hours="20-8"), "helped", night, sample=1.0)
        times = set(s.scalars(select(OutboxMessage.next_attempt_at)))
    assert times == {datetime(2026, 11, 3, 8, 0, tzinfo=UTC)}
    with db.transaction(sessions) as s:
        polls.open_round(s, ws.id, prog(quiet_hours="off", poll_min_days_between=0), "advice",
                         night, sample=1.0,
                         round_key="second")
        assert night in set(s.scalars(select(OutboxMessage.next_attempt_at)))
