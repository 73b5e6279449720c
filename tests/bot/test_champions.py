"""Champion nudges and digests on SQLite and PostgreSQL, with a controlled clock, on a
seeded network whose right suggestions are known (`bot.devkit.simulation.known_network`)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot import db
from bot.app import build_services
from bot.config import load_settings
from bot.devkit.simulation import KnownNetwork, known_network
from bot.models import ChampionDigest, Nudge, OutboxMessage, Person, Suggestion, Workspace
from bot.services import Services, champions
from bot.services.roster import apply_user
from bot.services.settings import ProgrammeSettings
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

# A Monday, 10:00 UTC: 10:00 in London, 05:00 in New York, 18:00 in Singapore.
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@dataclass
class World:
    services: Services
    net: KnownNetwork
    clock: list[datetime]

    def at(self, when: datetime) -> None:
        self.clock[0] = when

    def call(self, use_case: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.services.call(use_case, *args, **kwargs)

    def outbox(self) -> list[OutboxMessage]:
        with self.services.sessions() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def nudges(self) -> list[OutboxMessage]:
        return [m for m in self.outbox() if m.idempotency_key.startswith("nudge:")]

    def person(self, slack_id: str) -> Person:
        with self.services.sessions() as s:
            return s.scalars(select(Person).where(Person.slack_id == slack_id)).one()


def seed(services: Services, net: KnownNetwork, now: datetime, *, newcomer: bool = True
         ) -> None:
    with db.transaction(services.sessions) as s:
        ws = ensure_workspace(s, "T0SANDBOX", "Sandbox")
        ws.created_at = now - timedelta(days=120)
        for user in net.users:
            person = apply_user(s, ws, user)
            assert person is not None
            person.team = net.teams[user["id"]]
            person.is_champion = user["id"] in net.champions.values()
        s.flush()
        s.execute(update(Person).values(created_at=now - timedelta(days=100)))
        if newcomer:
            hire = apply_user(s, ws, net.newcomer)
            assert hire is not None
            hire.team, hire.created_at = "Beta", now - timedelta(days=2)
        for n, (a, b, kind, ago) in enumerate(net.ties):
            record_tie(s, ws, NewTie(a, b, kind, "kudos" if kind == "recognised" else "poll",
                                     f"seed:{n}", now - timedelta(days=ago)))
    services.use_stored_workspace()


@pytest.fixture
def make_world(database_url: str, tmp_path: Any) -> Iterator[Callable[..., World]]:
    made: list[Services] = []

    def make(net: KnownNetwork | None = None, **env: str) -> World:
        net = net or known_network()
        settings = load_settings(None, DATABASE_URL=database_url,
                                 PEERPULSE_DATA_DIR=str(tmp_path / "data"),
                                 **{"PEERPULSE_NUDGE_HOLDOUT": "0",
                                    "PEERPULSE_CHAMPION_CHANNELS": "CCHAMPS", **env})
        services = build_services(settings)
        clock = [NOW]
        services.clock = lambda: clock[0]
        if not made:
            seed(services, net, NOW)
        else:
            services.use_stored_workspace()
        made.append(services)
        return World(services, net, clock)

    yield make
    for services in made:
        services.sessions.kw["bind"].dispose()


def shown(plans: list[champions.NudgePlan]) -> set[tuple[str, str, str]]:
    return {(s.kind, p.champion, s.subject) for p in plans for s in p.shown}


def test_each_suggestion_known_in_advance_goes_to_the_right_champion(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    plans = world.call(champions.send_nudges, trigger="cli")
    assert set(world.net.expected) <= shown(plans)
    assert {p.champion for p in plans if p.action == "send"} == set(world.net.champions.values())
    # the recognised helper is never "thank"ed; nobody is suggested twice to one champion
    assert world.net.recognised not in {s for _, _, s in shown(plans)}
    for p in plans:
        people = [x for s in p.shown for x in (s.subject, s.other) if x]
        assert len(people) == len(set(people)) and 1 <= len(p.shown) <= 3
    # one DM per champion, in the outbox, with Done / Snooze / Not useful per suggestion
    dms = world.nudges()
    assert sorted(m.channel for m in dms) == sorted(world.net.champions.values())
    for m in dms:
        actions = [b for b in m.payload["blocks"] if b["type"] == "actions"]
        assert actions and all(
            [e["action_id"] for e in b["elements"]] ==
            ["suggestion_done", "suggestion_snooze", "suggestion_not_useful"] for b in actions)
        ids = {int(b["block_id"].split(":")[1]) for b in actions}
        with world.services.sessions() as s:
            rows = s.scalars(select(Suggestion).where(Suggestion.id.in_(ids))).all()
        assert {r.arm for r in rows} == {"shown"} and len(rows) == len(ids)



MENTION = re.compile(r"<@([A-Z0-9]+)>")


def test_a_second_send_now_sends_nothing_and_says_why_even_after_a_restart(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    first = world.call(champions.send_nudges, trigger="cli")
    assert sum(p.action == "send" for p in first) == 3
    world.at(NOW + timedelta(hours=2))
    again = world.call(champions.send_nudges, trigger="cli")
    assert {p.reason for p in again} == {"decided"} and not any(p.action == "send" for p in again)
    restarted = make_world()  # new wiring on the same database, as after a restart
    restarted.at(NOW + timedelta(days=3))  # a new week's period would not matter: the cap does
    later = restarted.call(champions.send_nudges, trigger="cli")
    assert len(world.nudges()) == 3
    assert all(p.action == "skip" for p in later)
    # next week's scheduled run is due again for everyone
    restarted.at(NOW + timedelta(days=7, minutes=5))
    week2 = restarted.call(champions.scheduled_nudges)
    assert {p.champion for p in week2 if p.action == "send"} <= set(
        world.net.champions.values())
    assert len(restarted.nudges()) == 3 + sum(p.action == "send" for p in week2)


def test_the_cap_holds_across_periods_and_the_schedule_waits_for_its_moment(
        make_world: Callable[..., World]) -> None:
    world = make_world(PEERPULSE_NUDGE_SCHEDULE="wed 09:00")
    world.at(NOW - timedelta(hours=14))  # Sunday 20:00, the week before: sent by hand
    sent = world.call(champions.send_nudges, trigger="cli")
    assert sum(p.action == "send" for p in sent) == 3 and sent[0].period == "2026-W44"
    world.at(NOW)  # Monday: this week's moment (Wednesday 09:00) has not come yet
    assert world.call(champions.scheduled_nudges) == []
    world.at(NOW + timedelta(days=2, hours=1))  # Wednesday 11:00: due, but capped
    wednesday = world.call(champions.scheduled_nudges)
    assert {p.reason for p in wednesday} == {"capped"} and wednesday[0].period == "2026-W45"
    capped = wednesday[0]
    assert capped.last_nudged == NOW - timedelta(hours=14)
    assert capped.next_allowed == NOW - timedelta(hours=14) + timedelta(days=7)
    assert "at most one nudge a week" in champions.describe_plan(capped)
    assert len(world.nudges()) == 3
    world.at(NOW + timedelta(days=5))  # Saturday: more than two days late, not sent late
    assert world.call(champions.scheduled_nudges) == []
    world.at(NOW + timedelta(days=9, hours=1))  # next Wednesday: due, and the cap is over
    later = world.call(champions.scheduled_nudges)
    assert {p.reason for p in later} <= {"", "nothing_to_say"}
    assert any(p.action == "send" for p in later)


def test_nudges_arrive_inside_each_champions_working_hours_in_their_own_timezone(
        make_world: Callable[..., World]) -> None:
    world = make_world(net=known_network(("Europe/London", "America/New_York",
                                          "Asia/Singapore")))
    world.call(champions.send_nudges, trigger="cli")
    due = {m.channel: m.next_attempt_at for m in world.nudges()}
    net = world.net
    # 10:00 London (inside 9-17): now; 05:00 New York: 09:00 there; 18:00 Singapore: 09:00
    # there the next morning
    assert due[net.champions["Alpha"]] == NOW
    assert due[net.champions["Beta"]] == datetime(2026, 11, 2, 9, tzinfo=ZoneInfo(
        "America/New_York"))
    assert due[net.champions["Delta"]] == datetime(2026, 11, 3, 9, tzinfo=ZoneInfo(
        "Asia/Singapore"))
    for m in world.nudges():
        local = m.next_attempt_at.astimezone(ZoneInfo(world.person(m.channel).tz or "UTC"))
        assert local.weekday() < 5 and 9 <= local.hour < 17
        assert m.expires_at is not None and m.expires_at > m.next_attempt_at


def test_a_friday_evening_nudge_waits_for_monday_morning(make_world: Callable[..., World]
                                                         ) -> None:
    world = make_world()
    world.at(datetime(2026, 11, 6, 18, 30, tzinfo=UTC))  # Friday 18:30 in London
    world.call(champions.send_nudges, trigger="cli")
    alpha = next(m for m in world.nudges() if m.channel == world.net.champions["Alpha"])
    assert alpha.next_attempt_at == datetime(2026, 11, 9, 9, tzinfo=UTC)


def test_a_champion_with_nothing_worth_saying_gets_no_nudge(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    with db.transaction(world.services.sessions) as s:
        # a champion inside Gamma and Epsilon, whose helpers have been thanked already
        s.execute(update(Person).where(Person.slack_id.in_(["UGAM2", "UEPS2"]))
                  .values(is_champion=True))
        ws = s.scalars(select(Workspace)).one()
        for who in ("UGAM1", "UEPS1"):
            record_tie(s, ws, NewTie("UALP2", who, "recognised", "kudos", f"k:{who}",
                                     NOW - timedelta(days=3)))
    plans = world.call(champions.send_nudges, trigger="cli")
    quiet = [p for p in plans if p.action == "skip"]
    assert [(p.champion, p.reason) for p in quiet] == [("UEPS2", "nothing_to_say"),
                                                       ("UGAM2", "nothing_to_say")]
    assert not {"UGAM2", "UEPS2"} & {m.channel for m in world.nudges()}
    with world.services.sessions() as s:  # decided for the period, not counted as a nudge
        row = s.scalars(select(Nudge).join(Person, Person.id == Nudge.champion_id)
                        .where(Person.slack_id == "UGAM2")).one()
    assert (row.status, row.outbox_key) == ("skipped", None)


def test_opted_out_people_are_never_suggested_and_nobody_learns_who_named_whom(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    net = world.net
    with db.transaction(world.services.sessions) as s:
        s.execute(update(Person).where(Person.slack_id == net.leaver).values(opted_out=True))
    plans = world.call(champions.send_nudges, trigger="cli")
    digest = world.call(champions.send_digest, trigger="cli")
    leaver = world.person(net.leaver)
    texts = [str(m.payload) for m in world.outbox()]
    assert texts and digest.queued == ["CCHAMPS"]
    assert not any(net.leaver in t or leaver.real_name in t for t in texts)
    assert net.leaver not in {s.subject for p in plans for s in p.shown + p.withheld}
    ties = {(a, b) for a, b, _, _ in net.ties}
    for m in world.outbox():
        mentioned = set(MENTION.findall(str(m.payload)))
        if m.idempotency_key.startswith("digest"):
            assert not mentioned, "the digest names nobody"
            continue
        champion = m.channel
        # no two people (other than the champion) mentioned together who are tied
        others = mentioned - {champion}
        assert not {(a, b) for a in others for b in others if (a, b) in ties}
        assert not re.search(r"named (you|by)|who named", str(m.payload).replace(
            "never tells anyone who named whom", ""))


def test_not_useful_is_not_suggested_again_soon_and_a_dismissed_kind_comes_less_often(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    net = world.net
    alpha = net.champions["Alpha"]
    first = world.call(champions.send_nudges, trigger="cli")
    plan = next(p for p in first if p.champion == alpha)
    thank = next(s for s in plan.shown if s.kind == "thank")
    answer = world.call(champions.answer_suggestion, thank.id, alpha, "not_useful")
    assert answer.answer == "not_useful"
    with pytest.raises(champions.NotYourSuggestion):  # someone else's click counts for nothing
        world.call(champions.answer_suggestion, thank.id, net.champions["Beta"], "done")
    for week in range(1, 8):  # seven weeks on: the helper is not suggested to Alpha again
        world.at(NOW + timedelta(days=7 * week, minutes=5))
        plans = world.call(champions.scheduled_nudges)
        assert (alpha, net.helper) not in {(p.champion, s.subject) for p in plans
                                           for s in p.shown + p.withheld}
    weights = champions.kind_weights({"thank": (0, 3)})
    assert weights["thank"] < 0.5 <= weights["say_hello"]


def test_snooze_brings_the_same_suggestion_back_after_two_weeks(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    alpha = world.net.champions["Alpha"]
    plans = world.call(champions.send_nudges, trigger="cli")
    thank = next(s for p in plans if p.champion == alpha for s in p.shown if s.kind == "thank")
    world.call(champions.answer_suggestion, thank.id, alpha, "snooze")
    world.at(NOW + timedelta(days=7, minutes=5))
    week1 = world.call(champions.scheduled_nudges)
    assert thank.id not in {s.id for p in week1 for s in p.shown}
    world.at(NOW + timedelta(days=14, minutes=5))
    week2 = world.call(champions.scheduled_nudges)
    back = [s for p in week2 if p.champion == alpha for s in p.shown if s.id == thank.id]
    assert back and back[0].again
    with world.services.sessions() as s:
        row = s.get(Suggestion, thank.id)
        assert row is not None and (row.status, row.snoozed_until) == ("open", None)


def test_dry_run_decides_the_same_as_the_real_run_and_records_nothing(
        make_world: Callable[..., World]) -> None:
    world = make_world(PEERPULSE_NUDGE_HOLDOUT="0.5")
    dry = world.call(champions.send_nudges, trigger="cli", dry_run=True)
    with world.services.sessions() as s:
        assert not s.scalar(select(func.count(Nudge.id)))
        assert not s.scalar(select(func.count(Suggestion.id)))
    assert not world.outbox()
    real = world.call(champions.send_nudges, trigger="cli")
    assert [(p.champion, [x.subject for x in p.shown], [x.subject for x in p.withheld])
            for p in dry] == [(p.champion, [x.subject for x in p.shown],
                               [x.subject for x in p.withheld]) for p in real]
    assert any(p.withheld for p in real), "with a 50% holdout something is withheld"


def test_the_digest_is_aggregates_only_once_per_period_with_its_picture(
        make_world: Callable[..., World]) -> None:
    world = make_world(PEERPULSE_CHAMPION_CHANNELS="CCHAMPS,COTHERS")
    first = world.call(champions.send_digest, trigger="cli")
    assert first.queued == ["CCHAMPS", "COTHERS"] and first.picture is not None
    f = first.figures
    assert [(g["kind"], g["label"]) for g in f["unreached"]] == [("team", "Epsilon"),
                                                                  ("team", "Gamma")]
    assert f["champions"] == 3 and 0 < f["reach_one"] <= f["reach_two"] < 1
    assert f["kudos"] == 1 and f["kudos_givers"] is None  # one giver: under the minimum
    keys = sorted(m.idempotency_key for m in world.outbox())
    assert keys == ["digest-picture:2026-W45:CCHAMPS", "digest-picture:2026-W45:COTHERS",
                    "digest:2026-W45:CCHAMPS", "digest:2026-W45:COTHERS"]
    picture = next(m for m in world.outbox() if m.idempotency_key.startswith("digest-pic"))
    assert picture.payload["files"] == [str(first.picture)] and picture.payload["dm"] is False
    assert first.picture.read_bytes()[:4] == b"\x89PNG"
    again = world.call(champions.send_digest, trigger="cli")
    assert again.queued == [] and again.already == ["CCHAMPS", "COTHERS"]
    assert world.call(champions.scheduled_digest) is None  # already posted this period
    world.at(NOW + timedelta(days=7, minutes=1))
    week2 = world.call(champions.scheduled_digest)
    assert week2 is not None and week2.period == "2026-W46"
    assert "since the last digest" in week2.blocks[3]["text"]["text"]
    with world.services.sessions() as s:
        assert s.scalar(select(func.count(ChampionDigest.id))) == 2


def test_too_little_data_is_said_plainly(make_world: Callable[..., World]) -> None:
    from bot.rendering import render

    world = make_world(PEERPULSE_NUDGE_HOLDOUT="0.3")
    nothing = render("champion_effect.j2", r=world.call(champions.measure_effect))
    assert "No suggestions yet" in nothing
    world.call(champions.send_nudges, trigger="cli")
    report = world.call(champions.measure_effect, NOW + timedelta(days=31))
    assert not report.effect.enough and report.effect.open_shown == 0
    text = render("champion_effect.j2", r=report)
    assert "Too little data to tell yet" in text and "Difference" not in text
    assert f"at least {report.effect.min_per_arm} of each" in text


def test_the_roster_champion_column_marks_and_unmarks_champions(
        make_world: Callable[..., World], tmp_path: Any) -> None:
    from bot.errors import RosterImportError
    from bot.services import roster

    world = make_world()
    path = tmp_path / "roster.csv"
    path.write_text("slack_id,champion\nUGAM1,true\nUCHAMPA,no\nUALP2,\n")
    result = world.call(roster.import_file, path)
    assert result.rows == 3
    assert world.person("UGAM1").is_champion and not world.person("UCHAMPA").is_champion
    assert not world.person("UALP2").is_champion  # blank: left as it was
    path.write_text("slack_id,champion\nUGAM1,maybe\n")
    with pytest.raises(RosterImportError, match="champion is true or false"):
        world.call(roster.import_file, path)


def test_a_slack_user_group_keeps_the_champions_in_sync(database_url: str, tmp_path: Any
                                                        ) -> None:
    from bot.devkit.sandbox import SlackSandbox
    from bot.services import network

    net = known_network()
    with SlackSandbox() as sandbox:
        sandbox.add_users(net.users)
        sandbox.add_usergroup("SCHAMPS", ["UGAM1", "UCHAMPA"])
        settings = load_settings(None, DATABASE_URL=database_url, SLACK_BOT_TOKEN=sandbox.token,
                                 SLACK_API_URL=sandbox.base_url, PEERPULSE_OWNERS="UCHAMPA",
                                 PEERPULSE_CHAMPION_USERGROUP="SCHAMPS")
        services = build_services(settings)
        seed(services, net, NOW)
        synced = services.call(champions.sync_champion_group)
        assert synced is not None
        assert synced.added == ["UGAM1"] and sorted(synced.removed) == ["UCHAMPB", "UCHAMPD"]
        with services.sessions() as s:
            marked = set(s.scalars(select(Person.slack_id).where(Person.is_champion)))
            audit = [e.action for e in network.audit_entries(s)]
        assert marked == {"UGAM1", "UCHAMPA"} and "champion.sync" in audit
        with pytest.raises(champions.ChampionsFromGroup, match="user group"):
            services.call(champions.change_champion, "UCHAMPA", "UALP2", True)
        assert services.call(champions.sync_champion_group).added == []  # idempotent
        services.sessions.kw["bind"].dispose()


def test_digest_and_nudge_stay_within_block_kit_limits_even_when_large() -> None:
    from bot import ui
    from bot.devkit.sandbox.blockkit import MAX_MESSAGE_BLOCKS, block_problems

    long = "Research & Development <Europe> " * 8
    figures = {"end": NOW.isoformat(), "min_group_size": 5, "participation": 0.5,
               "response_rate": 0.4, "asked": 900, "answered": 360, "new_ties": 4000,
               "cross_team_share": 0.3, "champions": 40, "reach_one": 0.2, "reach_two": 0.7,
               "unreached": [{"kind": "team", "label": f"{long}{i}", "size": 50}
                             for i in range(300)],
               "kudos": 500, "kudos_cross_team": 200, "kudos_givers": 120,
               "values": [["teamwork", 100], ["courage", 50]]}
    _, blocks = ui.digest_message(figures, [0.1, None, 0.5, 0.6], "2026-W45")
    assert block_problems(blocks, MAX_MESSAGE_BLOCKS) == []
    assert "and 288 more" in blocks[4]["text"]["text"]
    assert "&lt;Europe&gt;" in blocks[4]["text"]["text"]  # team names are escaped
    item = champions.Shown("introduce_them", "U1", long, "A", "U2", long, "B", id=7)
    plan = champions.NudgePlan("U0", "C", None, "UTC", "2026-W45", "send", "", 0.1, 0.3, 0.2,
                               shown=[item, dataclasses.replace(item, id=8),
                                      dataclasses.replace(item, id=9)])
    _, blocks = ui.nudge_message(plan)
    assert block_problems(blocks, MAX_MESSAGE_BLOCKS) == [] and len(blocks) == 8
    assert "+10 points since your last nudge" in blocks[0]["text"]["text"]


def test_owners_set_cadence_working_hours_and_holdout_in_the_settings_modal(
        make_world: Callable[..., World]) -> None:
    from bot import ui
    from bot.devkit.sandbox.blockkit import view_problems
    from bot.services import settings_form

    world = make_world(PEERPULSE_OWNERS="UCHAMPA")
    prefs = world.call(settings_form.current_settings, "UCHAMPA")
    view = ui.settings_modal(prefs, {"helped": "Who helped you this week?"})
    assert view_problems(view) == []
    fields = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]
              if b["type"] == "input"}
    assert fields["digest_schedule"] == "mon 09:00" and fields["nudge_schedule"] == "mon 09:00"
    assert fields["working_hours"] == "mon-fri 9-17" and fields["nudge_holdout"] == "0"
    _, errors = world.call(settings_form.save_settings, "UCHAMPA", {
        "digest_schedule": "someday", "working_hours": "9-25", "nudge_holdout": "80"})
    assert set(errors) == {"digest_schedule", "working_hours", "nudge_holdout"}
    changed, errors = world.call(settings_form.save_settings, "UCHAMPA", {
        "digest_schedule": "Fri  16:30", "nudge_schedule": "off",
        "working_hours": "sun-thu 8-16", "nudge_holdout": "50%"})
    assert not errors and changed == {"digest_schedule": "fri 16:30", "nudge_schedule": "off",
                                      "working_hours": "sun-thu 8-16", "nudge_holdout": 0.5}
    assert world.call(champions.scheduled_nudges) == []  # the nudge schedule is off
    plans = world.call(champions.send_nudges, trigger="cli", dry_run=True)
    assert any(p.withheld for p in plans)  # half are held back now
    # Sunday to Thursday 8-16: Monday 10:00 in London is inside; New York's 05:00 waits
    beta = next(p for p in plans if p.champion == world.net.champions["Beta"])
    assert beta.deliver_after == datetime(2026, 11, 2, 8, tzinfo=ZoneInfo("America/New_York"))


def test_the_digest_shows_the_response_rate_and_hides_it_for_fewer_than_five_asked(
        make_world: Callable[..., World]) -> None:
    from bot.services import polls

    world = make_world()
    with db.transaction(world.services.sessions) as s:
        prefs = ProgrammeSettings.defaults(world.services.settings)
        ws = s.scalars(select(Workspace)).one()
        opened = polls.open_round(s, ws.id, prefs, "helped", NOW - timedelta(days=2),
                                  sample=1.0)
    with db.transaction(world.services.sessions) as s:
        asked = s.execute(select(polls.PollRequest.id, Person.slack_id)
                          .join(Person, Person.id == polls.PollRequest.person_id)
                          .where(polls.PollRequest.round_id == opened.round_id)).all()
        for request_id, who in asked[:10]:
            polls.answer_poll(s, ws.id, request_id, who, NOW - timedelta(days=1), nobody=True)
    figures = world.call(champions.send_digest, trigger="cli", dry_run=True).figures
    assert figures["asked"] == len(asked) and figures["answered"] == 10
    assert figures["response_rate"] == pytest.approx(10 / len(asked))
    assert figures["participation"] == pytest.approx(10 / figures["people"])
    with db.transaction(world.services.sessions) as s:
        s.execute(update(polls.PollRequest).where(
            polls.PollRequest.id.in_([r for r, _ in asked[4:]])).values(
                asked_at=NOW - timedelta(days=30)))
    few = world.call(champions.digest_figures)  # four asked this week: under the minimum
    assert few["asked"] == 4 and few["answered"] == 4 and few["response_rate"] is None


def test_the_snapshot_summary_tells_owners_whether_the_nudges_work(
        make_world: Callable[..., World]) -> None:
    from bot.services import network

    world = make_world(PEERPULSE_OWNERS="UCHAMPA")
    world.call(champions.send_nudges, trigger="cli")
    world.call(network.send_snapshot, "UCHAMPA")
    summary = next(m for m in world.outbox() if m.idempotency_key.endswith(":summary"))
    assert "Do the nudges work?" in summary.payload["blocks"][1]["text"]["text"]
    assert "Too little data to tell yet" in summary.payload["text"]
