"""Champions end to end: the real bot over HTTP, its sender and scheduler, the CLI, and the
local Slack sandbox, on a seeded network whose right suggestions are known in advance
(`bot.devkit.simulation.known_network`)."""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import db
from bot.cli import main
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import KnownNetwork, known_network, simulate_organisation
from bot.models import OutboxMessage, Person, Suggestion, Workspace
from bot.services.ties import NewTie, record_tie
from tests.e2e.conftest import Stack, launch, wait_for_roster, wait_until

pytestmark = pytest.mark.slow

CHANNEL = "C0CHAMPS"
KUDOS_REASON = "for the onboarding guide nobody else wrote"
WORDS = {"say_hello": "Say hello", "introduce_yourself": "Introduce yourself",
         "thank": "Thank", "introduce_them": "Introduce"}
MENTION = re.compile(r"<@([A-Z0-9]+)>")


def base_env(workdir: Path, **extra: str) -> dict[str, str]:
    return {"PEERPULSE_CHAMPION_CHANNELS": CHANNEL, "PEERPULSE_NUDGE_HOLDOUT": "0",
            "PEERPULSE_NUDGE_SCHEDULE": "off", "PEERPULSE_DIGEST_SCHEDULE": "off",
            "PEERPULSE_WORKING_HOURS": "off", "PEERPULSE_SEND_PER_MINUTE": "3000",
            "PEERPULSE_DATA_DIR": str(workdir / "data"), **extra}


def cli(stack: Stack, env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `peerpulse ...` against the bot's database with the bot's settings."""
    import contextlib
    import io

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", str(stack.engine.url.render_as_string(hide_password=False)))
        for key, value in env.items():
            mp.setenv(key, value)
        with contextlib.redirect_stdout(out):
            code = main(list(args))
    return code, out.getvalue()


def prepare(stack: Stack, net: KnownNetwork, workdir: Path, env: dict[str, str]) -> None:
    """A programme that has run for months: people backdated, a newcomer joins today, the
    roster gives teams and champions, eight weeks of ties, and one helper opts out."""
    wait_for_roster(stack)
    now = datetime.now(UTC)
    with Session(stack.engine) as s, s.begin():
        s.execute(update(Workspace).values(created_at=now - timedelta(days=120)))
        s.execute(update(Person).values(created_at=now - timedelta(days=100)))
    stack.sandbox.add_users([net.newcomer])
    stack.slack.event({"type": "team_join", "user": net.newcomer})

    def joined() -> bool:
        with Session(stack.engine) as s:
            return s.scalar(select(Person.id).where(
                Person.slack_id == net.newcomer["id"])) is not None
    wait_until(joined, what="the newcomer's team_join")
    roster = workdir / "roster.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["slack_id", "team", "champion"])
        writer.writeheader()
        writer.writerows(net.roster_rows())
    assert cli(stack, env, "roster", "import", str(roster))[0] == 0
    factory = db.make_session_factory(stack.engine)
    with db.transaction(factory) as s:
        ws = s.scalars(select(Workspace)).one()
        for n, (a, b, kind, ago) in enumerate(net.ties):
            record_tie(s, ws, NewTie(a, b, kind, "kudos" if kind == "recognised" else "poll",
                                     f"seed:{n}", now - timedelta(days=ago),
                                     reason=KUDOS_REASON if kind == "recognised" else None))
    resp = stack.slack.slash_command("/network", "optout", net.leaver)
    assert resp.status == 200

    def opted_out() -> bool:
        with Session(stack.engine) as s:
            return bool(s.scalar(select(Person.opted_out).where(Person.slack_id == net.leaver)))
    wait_until(opted_out, what="the helper's opt-out")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, KnownNetwork,
                                                                      dict[str, str]]]:
    net = known_network()
    workdir = tmp_path_factory.mktemp("champions")
    env = base_env(workdir)
    with SlackSandbox(max_page_size=10) as sandbox:
        sandbox.add_users(net.users)
        sandbox.add_channel(CHANNEL, "champions")
        stack = launch(sandbox, simulate_organisation(5, 1), workdir,
                       PEERPULSE_OWNERS=net.champions["Alpha"], **env)
        prepare(stack, net, workdir, env)
        yield stack, net, env
        stack.bot.stop()
        stack.engine.dispose()


def dm(stack: Stack, user: str) -> list[dict[str, Any]]:
    return [m for m in stack.sandbox.messages(user)
            if "nudge" in m.get("text", "").lower()]


def everything_posted(sandbox: SlackSandbox) -> list[str]:
    """Every message and file comment the bot posted, as text (blocks included)."""
    posted = [repr({k: m.get(k) for k in ("text", "blocks")}) for m in sandbox.messages()]
    posted += [str(f.get("initial_comment") or "") + str(f.get("title") or "")
               for f in sandbox.files()]
    return posted


def test_each_suggestion_known_in_advance_reaches_its_champion(world: Any) -> None:
    stack, net, env = world
    code, out = cli(stack, env, "nudge", "send-now", "--dry-run")
    helper = next(u for u in net.users if u["id"] == net.helper)
    assert code == 0 and out.count("would send to") == 3 and "nothing recorded or sent" in out
    assert f"thank {helper['real_name']} (Alpha)" in out  # full name and team, not an id
    with Session(stack.engine) as s:
        assert not s.scalar(select(func.count(Suggestion.id)))
    code, out = cli(stack, env, "nudge", "send-now")
    assert code == 0
    assert out.count("nudge queued to") == 3 and "goes out now" in out
    champions = set(net.champions.values())
    wait_until(lambda: all(dm(stack, c) for c in champions), timeout=30,
               what="a nudge in each champion's DM")
    for kind, champion, subject in net.expected:
        (message,) = dm(stack, champion)
        texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
        assert any(f"<@{subject}>" in t and WORDS[kind] in t for t in texts), (kind, texts)
    # Alpha's helper comes with their team, as a mention; each suggestion has its buttons
    (alpha,) = dm(stack, net.champions["Alpha"])
    assert any(f"<@{net.helper}> (Alpha)" in b["text"]["text"] for b in alpha["blocks"]
               if b["type"] == "section")
    buttons = [b for b in alpha["blocks"] if b["type"] == "actions"]
    assert len(buttons) == 2 and all(len(b["elements"]) == 3 for b in buttons)


def test_the_digest_reaches_the_champion_channel_with_its_picture(world: Any) -> None:
    stack, _, env = world
    code, out = cli(stack, env, "digest", "send-now", "--dry-run")
    assert code == 0 and "nothing recorded or posted" in out and "Epsilon" in out
    assert not stack.sandbox.messages(CHANNEL)
    code, out = cli(stack, env, "digest", "send-now")
    assert code == 0 and f"queued for {CHANNEL}" in out
    message = stack.sandbox.wait_for(lambda: stack.sandbox.messages(CHANNEL), timeout=30)[0]
    text = " ".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")
    assert "*Epsilon* team (5 people)" in text and "*Gamma* team (5 people)" in text
    assert "Champion reach" in text and "Public kudos" in text
    picture = stack.sandbox.wait_for(lambda: stack.sandbox.files(CHANNEL), timeout=30)[0]
    assert picture["filename"] == "champion-reach.png"
    assert picture["content"][:4] == b"\x89PNG"
    code, out = cli(stack, env, "digest", "send-now")
    assert "already has the digest" in out
    time.sleep(1.5)
    assert len(stack.sandbox.messages(CHANNEL)) == 1


def test_no_message_names_an_opted_out_person_or_reveals_who_named_whom(world: Any) -> None:
    stack, net, _ = world
    wait_until(lambda: stack.sandbox.files(CHANNEL), timeout=30, what="the digest picture")
    leaver = next(u for u in net.users if u["id"] == net.leaver)
    tied = {(a, b) for a, b, _, _ in net.ties} | {(b, a) for a, b, _, _ in net.ties}
    posted = everything_posted(stack.sandbox)
    assert len(posted) >= 5
    for text in posted:
        assert net.leaver not in text and leaver["real_name"] not in text
        assert KUDOS_REASON not in text
        assert not re.search(r"named (you|by)|who named (?!whom)", text)
    for m in stack.sandbox.messages():
        mentioned = set(MENTION.findall(repr(m.get("blocks"))))
        if m["channel"] == CHANNEL:
            assert not mentioned, "a digest names nobody"
            continue
        assert not {(a, b) for a in mentioned for b in mentioned if (a, b) in tied}, mentioned


def test_the_buttons_are_recorded_and_the_message_shows_the_answer(world: Any) -> None:
    stack, net, _ = world
    alpha = net.champions["Alpha"]
    (message,) = dm(stack, alpha)
    thank = next(b for i, b in enumerate(message["blocks"]) if b["type"] == "actions"
                 and net.helper in message["blocks"][i - 1]["text"]["text"])
    suggestion = int(thank["block_id"].split(":")[1])
    where = {"block_id": thank["block_id"], "channel_id": stack.sandbox.dm_channel(alpha),
             "message": message}
    other = stack.slack.block_action(net.champions["Beta"], "suggestion_done",
                                     str(suggestion), **where)
    refused = stack.sandbox.wait_for(lambda: stack.sandbox.responses(other.response_key or ""))
    assert "made to someone else" in refused[-1]["text"]
    stack.slack.block_action(alpha, "suggestion_not_useful", str(suggestion), **where)

    def updated() -> dict[str, Any] | None:
        found = [m for m in dm(stack, alpha) if "edited" in m]
        return found[0] if found else None
    after = stack.sandbox.wait_for(updated, timeout=20)
    answered = next(b for b in after["blocks"] if b.get("block_id") == thank["block_id"])
    assert answered["type"] == "context" and "Noted" in answered["elements"][0]["text"]
    assert sum(b["type"] == "actions" for b in after["blocks"]) == 1  # the other one stays
    with Session(stack.engine) as s:
        row = s.get(Suggestion, suggestion)
        assert row is not None and row.status == "not_useful" and row.acted_at is not None


def test_owners_see_the_measured_effect_and_too_little_data_said_plainly(world: Any) -> None:
    stack, net, _ = world
    resp = stack.slack.slash_command("/network", "champions 2", net.champions["Alpha"])
    answer = stack.sandbox.wait_for(lambda: stack.sandbox.responses(resp.response_key or ""),
                                    timeout=60)[-1]["text"]
    assert "Recommended champions" in answer and "Do the nudges work?" in answer
    assert "Too little data to tell yet" in answer and "still within their 30 days" in answer
    refused = stack.slack.slash_command("/network", "champions", net.helper)
    assert "only programme owners" in str((refused.json or {}).get("text", "")).lower()


def _due_now_schedule() -> str:
    return f"{datetime.now(UTC):%a} 00:00".lower()


def test_a_second_send_now_sends_nothing_before_and_after_a_restart(world: Any) -> None:
    stack, net, env = world
    champions = sorted(net.champions.values())
    before = {c: len(dm(stack, c)) for c in champions}
    assert all(before.values())
    code, out = cli(stack, env, "nudge", "send-now")
    assert code == 0 and out.count("already nudged for this period") == 3
    # a restart with a schedule that is due now: the start-up run must send nothing either
    stack.bot.stop()
    due = dict(env, PEERPULSE_NUDGE_SCHEDULE=_due_now_schedule(),
               PEERPULSE_DIGEST_SCHEDULE=_due_now_schedule())
    stack.bot.env.update(due)
    stack.bot.start()
    wait_until(lambda: "champion nudges:" in stack.bot.log_tail(200), timeout=30,
               what="the start-up champions run")
    code, out = cli(stack, due, "nudge", "send-now")
    assert code == 0 and out.count("skipped") == 3 and "nudge queued" not in out
    code, out = cli(stack, due, "digest", "send-now")
    assert "already has the digest" in out
    time.sleep(2)
    assert {c: len(dm(stack, c)) for c in champions} == before
    assert len(stack.sandbox.messages(CHANNEL)) == 1
    with Session(stack.engine) as s:
        assert s.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.idempotency_key.like("nudge:%"))) == 3


# ---------------------------------------------------------------------- working hours

ZONES = ("Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
         "America/Denver", "America/Chicago", "America/New_York", "America/Halifax",
         "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Cape_Verde", "Europe/London",
         "Europe/Berlin", "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi",
         "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Tokyo", "Australia/Brisbane",
         "Pacific/Noumea", "Pacific/Auckland", "Pacific/Tongatapu", "Pacific/Kiritimati")


def zone_where(now: datetime, hours: range) -> str:
    """A real timezone whose local hour is now within ``hours``."""
    return next(z for z in ZONES if now.astimezone(ZoneInfo(z)).hour in hours)


def test_working_hours_are_honoured_in_three_timezones(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    inside = zone_where(now, range(10, 16))
    early = zone_where(now, range(0, 7))
    late = zone_where(now, range(18, 24))
    net = known_network((inside, early, late))
    env = base_env(tmp_path, PEERPULSE_WORKING_HOURS="mon-sun 9-17")
    with SlackSandbox() as sandbox:
        sandbox.add_users(net.users)
        sandbox.add_channel(CHANNEL, "champions")
        stack = launch(sandbox, simulate_organisation(5, 1), tmp_path, **env)
        try:
            prepare(stack, net, tmp_path, env)
            code, out = cli(stack, env, "nudge", "send-now")
            assert code == 0
            assert "waits for their working hours" in out and early in out and late in out
            alpha, beta, delta = (net.champions[t] for t in ("Alpha", "Beta", "Delta"))
            wait_until(lambda: dm(stack, alpha), timeout=30, what="the nudge inside hours")
            time.sleep(2)  # the sender had every chance to post the others
            assert not dm(stack, beta) and not dm(stack, delta)
            with Session(stack.engine) as s:
                rows = {m.channel: m for m in s.scalars(select(OutboxMessage).where(
                    OutboxMessage.idempotency_key.like("nudge:%")))}
            for champion, zone in ((beta, early), (delta, late)):
                local = rows[champion].next_attempt_at.astimezone(ZoneInfo(zone))
                assert rows[champion].status == "pending"
                assert (local.hour, local.minute) == (9, 0) and local > now
                assert local - now.astimezone(ZoneInfo(zone)) < timedelta(hours=16)
            assert rows[alpha].status == "sent"
        finally:
            stack.bot.stop()
            stack.engine.dispose()


# The demo's champion part (digest, nudges, measured effect) is checked in
# tests/e2e/test_demo.py, on the one demo run that module shares between its tests.
