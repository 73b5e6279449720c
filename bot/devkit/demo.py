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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.app import build_services
from bot.config import load_settings
from bot.devkit.botprocess import BotProcess
from bot.devkit.sandbox import DEFAULT_CHANNEL_ID, SlackSandbox, wait_for
from bot.devkit.signed_client import SignedClient
from bot.devkit.simulation import Organisation, simulate_organisation
from bot.models import AuditEntry, OutboxMessage, Person, PollRequest, Tie, Workspace
from bot.services import polls
from bot.services import roster as roster_service
from bot.services.export import export

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
                    OutboxMessage.status.in_(("pending", "sending")),
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
            slack.slash_command("/kudos", f"{mentions} {reason}", giver)
            played["commands"] += 1
    for giver, text in ((givers[0], f"<@{givers[0]}> for being me"),
                        (givers[1], f"<@{org.bots[0]}> for deploying")):
        resp = slack.slash_command("/kudos", text, giver)
        sandbox.wait_for(functools.partial(sandbox.responses, resp.response_key or ""))
        played["refused"] += 1
    time.sleep(0.5)  # the last DMs go out just after the acknowledgements
    dms = [m for m in sandbox.messages() if m["channel"].startswith("D")
           and "gave you kudos" in m.get("text", "")]
    played["dms"] = len(dms)
    played["posts"] = len([m for m in sandbox.messages(DEFAULT_CHANNEL_ID)
                           if "recognised" in m.get("text", "")])
    return played


def run_demo(out_dir: Path, *, people: int = 150, teams: int = 8, seed: int = 7, weeks: int = 6,
             echo: Callable[[str], None] = print) -> int:
    say = Narrator(echo)
    out_dir = out_dir.resolve()
    if out_dir.exists():
        for name in ("peerpulse.db", "peerpulse.db-wal", "peerpulse.db-shm", "bot.log"):
            (out_dir / name).unlink(missing_ok=True)
        for stale in ("snapshot", "snapshots", "owner-dm", "exports"):
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
        for gid, members in org.usergroups.items():
            sandbox.add_usergroup(gid, members)
        sandbox.fail("users.list", 429, retry_after=1, times=1)
        say(f"Local Slack sandbox at {sandbox.base_url} (users.list pages of 60; the first "
            "call will be rate-limited to show the bot waiting for Retry-After)")

        bot = BotProcess({
            "SLACK_BOT_TOKEN": sandbox.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": sandbox.base_url, "DATABASE_URL": db_url,
            "PEERPULSE_OWNERS": owner, "PEERPULSE_KUDOS_CHANNEL": DEFAULT_CHANNEL_ID,
            "PEERPULSE_DATA_DIR": str(out_dir), **DEMO_POLL_ENV,
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
            engine.dispose()
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
