"""`peerpulse demo`: the whole bot against the local Slack sandbox and a simulated organisation.

No Slack account needed. The demo starts the sandbox, the real bot in HTTP mode as a child
process, plays activity through signed requests, and writes what happened into one folder.
"""

from __future__ import annotations

import functools
import random
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.app import build_services
from bot.config import load_settings
from bot.devkit.botprocess import BotProcess
from bot.devkit.sandbox import DEFAULT_CHANNEL_ID, SlackSandbox, wait_for
from bot.devkit.signed_client import SignedClient
from bot.devkit.simulation import ChampionBehaviour, Organisation, simulate_organisation
from bot.models import AuditEntry, OutboxMessage, Person, PollRequest, Tie, Workspace
from bot.services import champions, polls
from bot.services import roster as roster_service
from bot.services.export import export
from bot.services.outbox import PENDING, SENDING

SIGNING_SECRET = "demo-signing-secret"
DEMO_OWNER_INDEX = 0


class Narrator:
    """Numbered, timed progress lines on stdout."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo, self.t0, self.step = echo, time.monotonic(), 0

    def __call__(self, text: str) -> None:
        self.step += 1
        self.echo(f"[{time.monotonic() - self.t0:5.1f}s] {self.step:>2}. {text}")

    def detail(self, text: str) -> None:
        self.echo(f"{'':13}{text}")


POLL_ROTATION = ("helped", "advice", "helped", "energy", "helped", "adopted")
# The demo compresses weeks into seconds: rounds may re-ask people at once, and the
# sender's ceiling is raised so 150 people are served in a few seconds.
DEMO_POLL_ENV = {"PEERPULSE_POLL_MIN_DAYS_BETWEEN": "0", "PEERPULSE_POLL_SAMPLE": "0.5",
                 "PEERPULSE_POLL_QUESTIONS": ",".join(dict.fromkeys(POLL_ROTATION)),
                 "PEERPULSE_SEND_PER_MINUTE": "3000"}


def _play_poll_rounds(org: Organisation, slack: SignedClient, sandbox: SlackSandbox,
                      sessions: sessionmaker[Session], db_url: str, weeks: int, seed: int,
                      say: Narrator) -> None:
    """Weekly poll rounds through the bot's own code path and sender; simulated people
    answer along the hidden structure (or not), by clicking in their DM."""
    # The bot's own wiring, on the workspace it recorded (as `peerpulse poll send-now`).
    settings = load_settings(None, DATABASE_URL=db_url, **DEMO_POLL_ENV)
    services = build_services(settings, migrate=False).use_stored_workspace()
    rng = random.Random(seed)
    totals = dict.fromkeys(("undelivered", "asked", "named", "nobody", "paused", "silent",
                            "refused", "duplicates"), 0)
    for week in range(weeks):
        question = POLL_ROTATION[week % len(POLL_ROTATION)]
        if week == 0:
            sandbox.rate_limit("chat.postMessage", 0.2, retry_after=1, seed=seed)
        opened = services.call(polls.start_round, question, trigger="demo",
                               round_key=f"demo:{week}")
        with sessions() as s:
            asked = list(s.execute(
                select(PollRequest.id, Person.slack_id)
                .join(Person, Person.id == PollRequest.person_id)
                .where(PollRequest.round_id == opened.round_id)))

        def delivered(round_id: int = opened.round_id) -> bool:
            with sessions() as s:
                return not s.scalar(select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.status.in_((PENDING, SENDING)),
                    OutboxMessage.poll_request_id.in_(select(PollRequest.id).where(
                        PollRequest.round_id == round_id))))
        wait_for(delivered, 60, what=f"round {week + 1} to be delivered")
        if week == 0:
            limited = sum(c.status == 429 for c in sandbox.calls("chat.postMessage"))
            sandbox.clear_faults("chat.postMessage")
        totals["asked"] += len(asked)

        def answer(item: tuple[int, str], week: int = week) -> str:
            request_id, user = item
            message = next((m for m in sandbox.messages(user) if any(
                b.get("block_id") == f"poll:{request_id}" for b in m.get("blocks", []))), None)
            if message is None:  # the demo's new hire exists only in the bot's database
                return "undelivered"
            where: dict[str, Any] = {"block_id": f"poll:{request_id}", "message_ts": message["ts"],
                     "channel_id": sandbox.dm_channel(user), "message": message}
            draw = random.Random(f"{seed}:{week}:{user}")
            if draw.random() >= org.respond_probability(user):
                return "silent"
            if draw.random() < 0.01:
                slack.block_action(user, polls.PAUSE, str(request_id), **where)
                return "paused"
            named = [] if draw.random() < 0.08 else org.sample_named(user, draw)
            if not named:  # a quiet week
                slack.block_action(user, polls.NOBODY, str(request_id), **where)
                return "nobody"
            pick: dict[str, Any] = {"action_type": "multi_users_select",
                                    "action": {"selected_users": named}}
            resp = slack.block_action(user, polls.PICK, **pick, **where)
            outcome = "named"

            def settled() -> bool:  # the DM was updated, or the bot answered privately
                return bool(sandbox.responses(resp.response_key or "")) or any(
                    m["ts"] == message["ts"] and "edited" in m for m in sandbox.messages(user))
            sandbox.wait_for(settled, timeout=20)
            if sandbox.responses(resp.response_key or ""):
                outcome = "refused"  # e.g. named the colleague who has left
                slack.block_action(user, polls.NOBODY, str(request_id), **where)
            if draw.random() < 0.05:  # an impatient double click
                again = slack.block_action(user, polls.PICK, **pick, **where)
                sandbox.wait_for(lambda: sandbox.responses(again.response_key or ""), timeout=20)
                return outcome + "+duplicate"
            return outcome

        rng.shuffle(asked)
        with ThreadPoolExecutor(max_workers=8) as pool:
            for outcome in pool.map(answer, asked):
                for part in outcome.split("+"):
                    totals["duplicates" if part == "duplicate" else part] += 1
        with sessions() as s:
            stats = polls.round_stats(s, opened.round_id, settings.min_group_size)
        rate = "-" if stats.response_rate is None else f"{stats.response_rate:.0%}"
        say(f"Poll round {week + 1} ({question!r}): {stats.asked} DMs queued and sent by the "
            f"bot's throttled sender"
            + (f" (through {limited} answers of 429, each retried after Retry-After)"
               if week == 0 else "")
            + f"; {stats.answered} answered ({rate})")
        if week == 0:
            shown = ", ".join(f"{t} {'hidden (<5 asked)' if v is None else f'{v:.0%}'}"
                              for t, v in stats.by_team.items())
            say.detail(f"response rate by team: {shown}")
    with sessions() as s:
        stored = s.scalar(select(func.count(Tie.id)).where(Tie.origin == "poll")) or 0
    say(f"{weeks} weekly poll rounds: {totals['asked']} DMs, {totals['named']} people named "
        f"colleagues ({stored} poll ties stored), {totals['nobody']} said nobody, "
        f"{totals['paused']} paused polls, {totals['silent']} did not answer; "
        f"{totals['duplicates']} double clicks added nothing, {totals['refused']} answers "
        f"refused with a clear message (a colleague who has left)")


KUDOS_REASONS = (
    "for untangling the release", "for pairing on the flaky test", "for the onboarding guide",
    "for staying late to help with the launch", "for the great customer call prep",
    "for explaining the data model", "for covering my on-call shift",
)


def _play_kudos(org: Organisation, slack: SignedClient, sandbox: SlackSandbox, seed: int,
                count: int = 40) -> dict[str, int]:
    """Simulated people give kudos to whom they would name, through signed requests."""
    rng = random.Random(seed + 1)
    values = ("teamwork", "ownership", "curiosity", "customer-first", "courage")
    givers = [p.id for p in org.people if p.id not in org.isolated]
    played = {"commands": 0, "modals": 0, "refused": 0}
    answers: list[str] = []  # each /kudos is answered after its ack (handlers.followups)
    for i in range(count):
        giver = rng.choice(givers)
        named = org.sample_named(giver, rng, k_max=2)
        if not named:
            continue
        reason = f"{rng.choice(KUDOS_REASONS)} #{rng.choice(values)}"
        if i % 5 == 4:
            slack.shortcut("give_kudos", giver)
            modal = sandbox.wait_for(functools.partial(sandbox.views, giver))[-1]
            slack.view_submission(giver, "kudos_modal", {
                "recipients": {"users": {"type": "multi_users_select", "selected_users": named}},
                "reason": {"text": {"type": "plain_text_input",
                                    "value": rng.choice(KUDOS_REASONS)}},
            }, view=modal)
            played["modals"] += 1
        else:
            mentions = " ".join(f"<@{n}>" for n in named)
            answers.append(slack.slash_command("/kudos", f"{mentions} {reason}",
                                               giver).response_key or "")
            played["commands"] += 1
    for giver, text in ((givers[0], f"<@{givers[0]}> for being me"),
                        (givers[1], f"<@{org.bots[0]}> for deploying")):
        answers.append(slack.slash_command("/kudos", text, giver).response_key or "")
        played["refused"] += 1
    # Every giver answered: their DMs went out before (the answer says whether they did).
    sandbox.wait_for(lambda: all(sandbox.responses(key) for key in answers), timeout=60)
    dms = [m for m in sandbox.messages() if m["channel"].startswith("D")
           and "gave you kudos" in m.get("text", "")]
    played["dms"] = len(dms)
    played["posts"] = len([m for m in sandbox.messages(DEFAULT_CHANNEL_ID)
                           if "recognised" in m.get("text", "")])
    return played


CHAMPIONS_CHANNEL = "C0CHAMPS"
# Champions in the demo: digests and nudges are driven by the demo (not the schedule), and
# time is compressed, so nudges go out whatever the hour (production: mon-fri 9-17 in each
# champion's own timezone).
DEMO_CHAMPION_ENV = {"PEERPULSE_CHAMPION_CHANNELS": CHAMPIONS_CHANNEL,
                     "PEERPULSE_WORKING_HOURS": "off", "PEERPULSE_NUDGE_SCHEDULE": "off",
                     "PEERPULSE_DIGEST_SCHEDULE": "off"}
CHAMPION_WEEKS = 8
BEHAVIOUR = ChampionBehaviour(act=0.5, baseline=0.1)


def _nudges_file(plans: list[champions.NudgePlan], path: Path, heading: str) -> None:
    """What each champion was sent (or why not), with full names and teams."""
    lines = [heading, ""]
    for plan in plans:
        lines.append(champions.describe_plan(plan))
        lines += [f"    - {champions.describe(item)}" for item in plan.shown]
        lines += [f"    - (withheld for the holdout) {champions.describe(item)}"
                  for item in plan.withheld]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _play_champions(slack: SignedClient, sandbox: SlackSandbox, db_url: str, out_dir: Path,
                    say: Narrator) -> None:
    """Through the running bot: the digest in the champion channel, a nudge to each
    champion, a champion's answers, and a second send-now that sends nothing."""
    settings = load_settings(None, DATABASE_URL=db_url, PEERPULSE_DATA_DIR=str(out_dir),
                             **DEMO_POLL_ENV, **DEMO_CHAMPION_ENV)
    services = build_services(settings, migrate=False).use_stored_workspace()
    # The demo compresses months into a minute: date the install (and everyone but the new
    # hire) two months back, so the hire counts as a newcomer to greet.
    from datetime import UTC, datetime, timedelta

    with db.transaction(services.sessions) as s:
        then = datetime.now(UTC) - timedelta(days=60)
        s.execute(update(Workspace).values(created_at=then))
        s.execute(update(Person).where(Person.slack_id != "UDEMOHIRE").values(created_at=then))
    folder = out_dir / "champions"
    folder.mkdir(exist_ok=True)
    digest = services.call(champions.send_digest, trigger="demo")
    post = sandbox.wait_for(lambda: sandbox.messages(CHAMPIONS_CHANNEL), timeout=60)[0]
    picture = sandbox.wait_for(lambda: sandbox.files(CHAMPIONS_CHANNEL), timeout=60)[0]
    (folder / "digest.txt").write_text(champions.plain_text(post["blocks"]) + "\n",
                                       encoding="utf-8")
    (folder / picture["filename"]).write_bytes(picture["content"])
    f = digest.figures
    unreached = ", ".join(g["label"] for g in f["unreached"]) or "none"
    reach = "-" if f["reach_two"] is None else f"{f['reach_two']:.0%}"
    say(f"Champion digest posted in #champions ({len(post['blocks'])} blocks, aggregates "
        f"only) with a picture of reach by team through files_upload_v2: champions reach "
        f"{reach} of people in two steps; nobody reaches: {unreached}")
    plans = services.call(champions.send_nudges, trigger="demo")
    sent = [p for p in plans if p.action == "send"]
    def nudged(champion: str) -> bool:
        return any("nudge" in m.get("text", "") for m in sandbox.messages(champion))

    for plan in sent:
        sandbox.wait_for(functools.partial(nudged, plan.champion), timeout=60)
    _nudges_file(plans, folder / "nudges.txt", "Nudges sent through the running bot")
    shown = sum(len(p.shown) for p in plans)
    held = sum(len(p.withheld) for p in plans)
    say(f"Nudges: {len(sent)} of {len(plans)} champions DMed their reach and {shown} "
        f"suggestions aimed by network position ({held} withheld at random to measure the "
        f"effect); {len(plans) - len(sent)} had nothing worth saying")
    for plan in plans:
        say.detail(champions.describe_plan(plan))
        for item in plan.shown:
            say.detail(f"    {champions.describe(item)}")
    clicker = next((p for p in sent if len(p.shown) >= 2), None)
    if clicker is not None:
        message = next(m for m in sandbox.messages(clicker.champion)
                       if "nudge" in m.get("text", ""))
        for item, action in zip(clicker.shown, ("suggestion_done", "suggestion_not_useful"),
                                strict=False):
            slack.block_action(clicker.champion, action, str(item.id),
                               block_id=f"suggestion:{item.id}", message=message,
                               channel_id=sandbox.dm_channel(clicker.champion))
        sandbox.wait_for(lambda: any("edited" in m for m in sandbox.messages(clicker.champion)),
                         timeout=20)
        say(f"{clicker.name} pressed Done on one suggestion and Not useful on another: "
            "recorded, and the buttons gave way to the answer in place")
    again = services.call(champions.send_nudges, trigger="demo")
    say(f"A second nudge send-now sent nothing: {again[0] and champions.describe_plan(again[0])}"
        if again else "A second nudge send-now had nobody to nudge")
    services.sessions.kw["bind"].dispose()


def _simulate_week(org: Organisation, services: Any, since: Any, week: int,
                   rng: random.Random) -> int:
    """One simulated week of everyday life: people name colleagues along the hidden
    structure, and a new hire joins a team with no ties yet. Returns the hires."""
    from datetime import timedelta

    from bot.services.ties import NewTie, record_tie

    hire = {"id": f"UDEMOWEEK{week}", "name": f"hire.{week}", "real_name": f"New Hire {week}",
            "deleted": False, "is_bot": False, "tz": "Europe/London",
            "profile": {"display_name": f"Hire {week}", "real_name": f"New Hire {week}"}}
    with db.transaction(services.sessions) as s:
        ws = s.scalars(select(Workspace)).one()
        for person in org.people:
            if rng.random() < org.respond_probability(person.id) * 0.4:
                for other in org.sample_named(person.id, rng, k_max=3):
                    record_tie(s, ws, NewTie(person.id, other, "helped", "poll",
                                             f"demo-week:{week}:{person.id}:{other}",
                                             since + timedelta(days=rng.uniform(0, 6.9))))
        joined = roster_service.apply_user(s, ws, hire)
        if joined is None:
            return 0
        joined.team = rng.choice(sorted(org.teams))
        joined.created_at = since + timedelta(days=7)
    return 1


def _simulate_champion_weeks(org: Organisation, sandbox: SlackSandbox, db_url: str,
                             out_dir: Path, seed: int, say: Narrator) -> str:
    """Weeks of digests and nudges in simulated time (the bot's own use cases and sender,
    with a clock that moves a week at a time); simulated champions act on some suggestions
    and people meet anyway, so the true effect is known. Returns the measured effect."""
    from datetime import UTC, datetime, timedelta

    from bot.rendering import render
    from bot.services.delivery import Delivery
    from bot.services.ties import NewTie, record_tie

    settings = load_settings(None, DATABASE_URL=db_url, SLACK_BOT_TOKEN=sandbox.token,
                             SLACK_API_URL=sandbox.base_url, PEERPULSE_DATA_DIR=str(out_dir),
                             PEERPULSE_SEND_PER_MINUTE="3000", **DEMO_CHAMPION_ENV)
    services = build_services(settings, migrate=False).use_stored_workspace()
    start = datetime.now(UTC)
    clock = [start]
    services.clock = lambda: clock[0]
    services.delivery = Delivery(services.sessions, settings, lambda: clock[0])
    recruits = list(dict.fromkeys(org.brokers + org.hyper_connected))
    services.call(roster_service.set_champions, recruits)
    rng = random.Random(seed + 11)
    counts = {"shown": 0, "withheld": 0, "acted": 0, "dismissed": 0}
    plans: list[champions.NudgePlan] = []
    hires = 0
    for week in range(1, CHAMPION_WEEKS + 1):
        clock[0] = start + timedelta(days=7 * week)
        hires += _simulate_week(org, services, start + timedelta(days=7 * (week - 1)), week,
                                rng)
        services.call(champions.send_digest, trigger="demo")
        plans = services.call(champions.send_nudges, trigger="demo")
        services.delivery.drain(timeout=30)
        with db.transaction(services.sessions) as s:
            ws = s.scalars(select(Workspace)).one()
            for plan in plans:
                for arm, items in (("shown", plan.shown), ("withheld", plan.withheld)):
                    for item in items:
                        counts[arm] += 1
                        acted, days = BEHAVIOUR.outcome(arm == "shown", rng)
                        counts["acted"] += acted
                        if days is not None:
                            a, b = ((item.subject, item.other) if item.other
                                    else (plan.champion, item.subject))
                            kind = "recognised" if item.kind == "thank" else "helped"
                            record_tie(s, ws, NewTie(
                                a, b, kind, "kudos" if kind == "recognised" else "poll",
                                f"demo-champion:{week}:{plan.champion}:{item.subject}",
                                clock[0] + timedelta(days=days)))
        for plan in plans:
            for item in plan.shown:
                if item.id is not None and rng.random() < BEHAVIOUR.dismiss:
                    services.call(champions.answer_suggestion, item.id, plan.champion,
                                  "not_useful")
                    counts["dismissed"] += 1
    _nudges_file(plans, out_dir / "champions" / "nudges-last-week.txt",
                 f"Nudges of simulated week {CHAMPION_WEEKS}")
    clock[0] = start + timedelta(days=7 * CHAMPION_WEEKS + 31)
    report = services.call(champions.measure_effect)
    effect = render("champion_effect.j2", r=report)
    (out_dir / "champions" / "effect.txt").write_text(effect + "\n", encoding="utf-8")
    e = report.effect
    say(f"{CHAMPION_WEEKS} simulated weeks with {len(recruits)} more champions recruited, "
        f"everyday ties and {hires} new hires: a digest and nudges each week through the "
        f"bot's sender ({counts['shown']} "
        f"suggestions shown, {counts['withheld']} withheld at random; champions marked "
        f"{counts['dismissed']} not useful)")

    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{rate:.0%}"
    if e.enough and e.difference is not None and e.low is not None and e.high is not None:
        say(f"Measured effect after 30 days: a tie followed {pct(e.shown.rate)} of shown "
            f"suggestions ({pct(e.shown.low)}-{pct(e.shown.high)}) and {pct(e.withheld.rate)} "
            f"of withheld ones ({pct(e.withheld.low)}-{pct(e.withheld.high)}): "
            f"{e.difference * 100:+.0f} points, 95% CI {e.low * 100:+.0f} to "
            f"{e.high * 100:+.0f}")
    else:
        say("Measured effect: too little data to tell yet "
            f"({e.shown.total} shown and {e.withheld.total} withheld suggestions finished)")
    say.detail(f"the simulation's truth: {BEHAVIOUR.shown_rate:.0%} of shown and "
               f"{BEHAVIOUR.baseline:.0%} of withheld suggestions are followed by a tie "
               f"({(BEHAVIOUR.shown_rate - BEHAVIOUR.baseline) * 100:+.0f} points)")
    services.sessions.kw["bind"].dispose()
    return effect


def run_demo(out_dir: Path, *, people: int = 150, teams: int = 8, seed: int = 7, weeks: int = 6,
             echo: Callable[[str], None] = print) -> int:
    say = Narrator(echo)
    out_dir = out_dir.resolve()
    if out_dir.exists():
        for name in ("peerpulse.db", "peerpulse.db-wal", "peerpulse.db-shm", "bot.log"):
            (out_dir / name).unlink(missing_ok=True)
        for stale in ("snapshot", "snapshots", "owner-dm", "exports", "champions", "digests"):
            shutil.rmtree(out_dir / stale, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{out_dir / 'peerpulse.db'}"

    org = simulate_organisation(n_people=people, n_teams=teams, seed=seed)
    say(f"Simulated organisation: {len(org.people)} people in {len(org.teams)} teams, "
        f"{len(org.community_names)} informal communities, {len(org.brokers)} brokers, "
        f"{len(org.isolated)} isolated people (plus {len(org.bots)} bots, Slackbot and "
        f"{len(org.deleted)} deactivated account)")
    owner = org.people[DEMO_OWNER_INDEX].id
    with SlackSandbox(max_page_size=60) as sandbox:
        sandbox.add_users(org.users)
        sandbox.add_channel(CHAMPIONS_CHANNEL, "champions")
        for gid, members in org.usergroups.items():
            sandbox.add_usergroup(gid, members)
        sandbox.fail("users.list", 429, retry_after=1, times=1)
        say(f"Local Slack sandbox at {sandbox.base_url} (users.list pages of 60; the first "
            "call will be rate-limited to show the bot waiting for Retry-After)")

        bot = BotProcess({
            "SLACK_BOT_TOKEN": sandbox.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": sandbox.base_url, "DATABASE_URL": db_url,
            "PEERPULSE_OWNERS": owner, "PEERPULSE_KUDOS_CHANNEL": DEFAULT_CHANNEL_ID,
            "PEERPULSE_DATA_DIR": str(out_dir), **DEMO_POLL_ENV, **DEMO_CHAMPION_ENV,
        }, log_path=out_dir / "bot.log", cwd=out_dir)
        with bot:
            say(f"Bot running in HTTP mode at {bot.url} (POST /slack/events, GET /healthz)")
            engine = db.make_engine(db_url)
            sessions = db.make_session_factory(engine)

            def synced() -> bool:
                with sessions() as s:
                    ws = s.scalars(select(Workspace)).first()
                    return ws is not None and ws.roster_synced_at is not None
            wait_for(synced, 60, what="the roster sync")
            calls = sandbox.calls("users.list")
            with sessions() as s:
                active = s.scalar(select(func.count(Person.id)).where(Person.is_active)) or 0
                inactive = s.scalar(select(func.count(Person.id)).where(~Person.is_active)) or 0
            say(f"Roster synced from users.list: {active} active people, {inactive} "
                f"deactivated, bots and Slackbot skipped ({len(calls)} calls, "
                f"{sum(c.status == 429 for c in calls)} answered 429 and retried)")

            services = build_services(load_settings(None, DATABASE_URL=db_url),
                                      migrate=False).use_stored_workspace()
            roster = org.roster_csv(out_dir / "roster.csv")
            result = services.call(roster_service.import_file, roster)
            champions = list(dict.fromkeys(
                [*org.hyper_connected[:1], org.people[1].id, org.people[2].id]))
            services.call(roster_service.set_champions, champions)
            say(f"Roster imported from {roster.name}: team, manager and title for "
                f"{result.rows} people; {len(champions)} champions marked")

            slack = SignedClient(bot.url, SIGNING_SECRET, sandbox.team_id, response_urls=sandbox)
            hire = {"id": "UDEMOHIRE", "name": "sam.new", "real_name": "Sam Newhire",
                    "deleted": False, "is_bot": False, "tz": "Europe/London",
                    "profile": {"email": "sam.new@example.com", "display_name": "Sam"}}
            slack.event({"type": "team_join", "user": hire}, event_id="EvDEMOJOIN")
            slack.event({"type": "team_join", "user": hire}, event_id="EvDEMOJOIN", retry_num=1)
            leaver = next(u for u in org.users if u["id"] == org.people[-1].id)
            slack.event({"type": "user_change", "user": dict(leaver, deleted=True)})
            refused = slack.send(b'{"type":"event_callback"}', "application/json", sign=False)

            def hired() -> bool:
                with sessions() as s:
                    hire_q = select(Person.id).where(Person.slack_id == "UDEMOHIRE")
                    return s.scalar(hire_q) is not None
            wait_for(hired, 20, what="the team_join event")
            say("Signed events played: a new hire joined (delivered twice, stored once), "
                f"a leaver was deactivated (history kept); an unsigned request got "
                f"{refused.status}")

            given = _play_kudos(org, slack, sandbox, seed)
            with sessions() as s:
                stored_kudos = s.scalar(select(func.count(Tie.id))
                                        .where(Tie.kind == "recognised")) or 0
            say(f"Kudos: {given['commands']} /kudos commands and {given['modals']} kudos forms "
                f"(shortcut → modal) along the hidden structure; {stored_kudos} recognitions "
                f"stored, {given['dms']} DMs and {given['posts']} posts in #general; "
                f"{given['refused']} refused with a clear message (self-kudos, bots)")

            _play_poll_rounds(org, slack, sandbox, sessions, db_url, weeks, seed, say)

            exported = services.call(export, out_dir)
            say(f"Exported {exported.ties} tie events and {exported.people} people to "
                f"{exported.ties_path.name} and {exported.people_path.name}")

            resp = slack.slash_command("/network", "snapshot", owner)
            say(f"The programme owner typed /network snapshot: the bot answered "
                f"\"{(resp.json or {}).get('text', '')}\" at once and works off the request path")
            sandbox.wait_for(lambda: len(sandbox.files(owner)) >= 4, timeout=120)
            delivered = sandbox.files(owner)
            dm_dir = out_dir / "owner-dm"
            dm_dir.mkdir(exist_ok=True)
            for f in delivered:
                (dm_dir / f["filename"]).write_bytes(f["content"])
            summary = next(m["text"] for m in sandbox.messages(owner)
                           if "Network snapshot" in m["text"])
            for line in summary.splitlines()[1:4]:
                say.detail(line.replace("*", ""))
            with sessions() as s:
                entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "snapshot")
                                  .order_by(AuditEntry.id.desc())).first()
                folder = Path(entry.detail["folder"]) if entry else out_dir
            files = {p.name: p for p in folder.iterdir()}
            say(f"Snapshot delivered to the owner's DM through files_upload_v2 "
                f"({', '.join(sorted(f['filename'] for f in delivered))}); the full set, "
                f"with metrics.json and GraphML, is in {folder.relative_to(out_dir)}")
            _play_champions(slack, sandbox, db_url, out_dir, say)
            engine.dispose()
        _simulate_champion_weeks(org, sandbox, db_url, out_dir, seed, say)
        sandbox.dump(out_dir / "slack-sandbox.json")
        api_calls = len(sandbox.calls())

    echo("")
    echo(f"Done in {time.monotonic() - say.t0:.1f}s. Everything is in {out_dir}:")
    snap = folder.relative_to(out_dir)
    rows = [
        (f"{snap}/report.html", "the network report (open it in a browser)"),
        (f"{snap}/network.png", "the network picture"),
        (f"{snap}/metrics.json", "every figure, machine-readable"),
        (f"{snap}/network.gexf", "open in Gephi"),
        ("owner-dm/", "the files exactly as the owner received them in Slack"),
        ("champions/digest.txt", "the champion digest as posted in #champions"),
        ("champions/champion-reach.png", "its picture: champion reach by team"),
        ("champions/nudges.txt", "each champion's nudge, with full names and teams"),
        ("champions/effect.txt", "the measured effect of the nudges (shown vs withheld)"),
        ("ties.csv, people.csv", "the export (peerpulse export)"),
        ("roster.csv", "the simulated HR roster that was imported"),
        ("slack-sandbox.json", f"every Slack API call the bot made ({api_calls})"),
        ("bot.log", "the bot's own log"),
        ("peerpulse.db", "the bot's SQLite database"),
    ]
    for name, what in rows:
        echo(f"  {name:<44} {what}")
    if not all(p.exists() for p in files.values()):
        print("demo: some snapshot files are missing", file=sys.stderr)
        return 1
    return 0
