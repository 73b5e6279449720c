"""Privacy end to end, on SQLite and PostgreSQL: the real bot over HTTP leaves nothing of a
person behind after `/network forgetme` (database, its files, snapshot and export folders,
the log), and colleagues' App Home stops showing kudos from or to someone who opted out."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import db
from bot.cli import main
from bot.devkit.simulation import Organisation
from bot.devkit.simulation import Person as OrgPerson
from bot.models import Workspace
from bot.services.ties import NewTie, record_tie
from tests.bot.test_privacy import find, grep_files, grep_tables
from tests.e2e.conftest import Stack, wait_for_roster, wait_until

pytestmark = pytest.mark.slow


def victim_of(org: Organisation) -> OrgPerson:
    """A team manager whose first and last names nobody else in the organisation has, so
    any hit after the erasure is theirs."""
    words = [w.lower() for p in org.people for w in p.real_name.split()]
    for p in org.people[1:]:
        if p.id in org.managers.values() and all(words.count(w.lower()) == 1
                                                 for w in p.real_name.split()):
            return p
    raise AssertionError("no manager with a unique name in this organisation")


def needles(p: OrgPerson) -> tuple[str, ...]:
    return (p.id, p.real_name, *p.real_name.split(), p.name, p.email)


def reply_texts(stack: Stack, key: str | None) -> list[str]:
    assert key is not None
    return [str(r.get("text")) for r in stack.sandbox.responses(key)]


def kudos(stack: Stack, giver: str, text: str) -> None:
    resp = stack.slack.slash_command("/kudos", text, giver)
    assert resp.status == 200
    stack.sandbox.wait_for(lambda: reply_texts(stack, resp.response_key), timeout=20)


def network(stack: Stack, user: str, text: str, expect: str) -> None:
    resp = stack.slack.slash_command("/network", text, user)
    assert resp.status == 200
    stack.sandbox.wait_for(lambda: any(expect in t for t in reply_texts(
        stack, resp.response_key)), timeout=60)


def seed_poll_ties(stack: Stack, victim: str) -> None:
    """Answers naming the victim and answers by them, as poll ties."""
    rng = random.Random(4)
    with db.transaction(db.make_session_factory(stack.engine)) as s:
        ws = s.scalars(select(Workspace)).one()
        others = [p.id for p in stack.org.people if p.id != victim]
        for i, other in enumerate(rng.sample(others, 12)):
            when = datetime.now(UTC) - timedelta(days=i + 1)
            record_tie(s, ws, NewTie(other, victim, "helped", "poll", f"seed:{i}:a", when))
            record_tie(s, ws, NewTie(victim, other, "advice", "poll", f"seed:{i}:b", when))
            record_tie(s, ws, NewTie(other, others[i - 1], "helped", "poll", f"seed:{i}:c",
                                     when))


def test_forgetme_leaves_nothing_behind_in_the_running_bot(
        start_stack: Callable[..., Stack], org: Organisation, database_url: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    owner = org.people[0].id
    stack = start_stack(database_url, PEERPULSE_DATA_DIR=str(data), PEERPULSE_OWNERS=owner,
                        PEERPULSE_SEND_PER_MINUTE="6000")
    wait_for_roster(stack)
    eve = victim_of(stack.org)
    words = needles(eve)
    first = eve.real_name.split()[0]
    colleagues = [p.id for p in stack.org.people if p.id not in (owner, eve.id)]
    a, b, c = colleagues[:3]

    # Her footprint, made the way people make it.
    monkeypatch.setenv("DATABASE_URL", database_url)
    roster = stack.org.roster_csv(tmp_path / "roster.csv")
    assert main(["roster", "import", str(roster)]) == 0  # she manages her team
    seed_poll_ties(stack, eve.id)
    kudos(stack, a, f"<@{eve.id}> for the onboarding guide")
    kudos(stack, eve.id, f"<@{b}> for the review")
    kudos(stack, c, f"<@{b}> for pairing with {eve.real_name} ({eve.email}), thanks {first}")
    assert main(["poll", "send-now", "--sample", "1"]) == 0
    stack.sandbox.wait_for(lambda: stack.sandbox.messages(stack.sandbox.dm_channel(eve.id)),
                           timeout=60)
    network(stack, owner, f"champion add <@{eve.id}|x>", "is now a champion")
    network(stack, owner, "snapshot 30", "Snapshot sent")
    stack.slack.block_action(owner, "owner_export", "export", block_id="owner_actions",
                             view={"id": "VHOME", "type": "home"})
    wait_until(lambda: (data / "exports").exists() and any((data / "exports").iterdir()),
               what="export folder")
    assert {t for t, _ in grep_tables(stack.engine, words)} >= {
        "people", "ties", "outbox_messages", "audit_log"}
    assert grep_files(data, *words)
    log_mark = stack.bot.log_path.stat().st_size

    resp = stack.slack.slash_command("/network", "forgetme", eve.id)
    stack.sandbox.wait_for(lambda: any("cannot be undone" in t for t in reply_texts(
        stack, resp.response_key)))
    done = stack.slack.block_action(eve.id, "forget_confirm", "erase", block_id="forget")
    stack.sandbox.wait_for(lambda: any("erased for good" in t for t in reply_texts(
        stack, done.response_key)), timeout=60)

    # While the bot runs on: every table, every file beside it (the SQLite database and
    # its -wal and -shm included), the snapshot and export folders, and the log since.
    assert grep_tables(stack.engine, words) == []
    files = [hit for hit in grep_files(tmp_path, *words) if hit[0] != "bot.log"
             and not hit[0].startswith("roster.csv")]
    assert files == []
    assert find(stack.bot.log_path.read_bytes()[log_mark:], words) == []


def test_colleagues_app_home_drops_kudos_of_someone_who_opted_out(
        start_stack: Callable[..., Stack]) -> None:
    stack = start_stack()
    wait_for_roster(stack)
    me, them = stack.org.people[3].id, stack.org.people[4].id
    kudos(stack, me, f"<@{them}> for the migration plan")
    kudos(stack, them, f"<@{me}> for unblocking the release")

    def home_after_opening() -> str:
        published = len(stack.sandbox.calls("views.publish"))
        stack.slack.app_home_opened(me)
        stack.sandbox.wait_for(lambda: len(stack.sandbox.calls("views.publish")) > published)
        return json.dumps(stack.sandbox.home(me))

    home = home_after_opening()
    assert "migration plan" in home and "unblocking the release" in home and them in home
    network(stack, them, "optout", "opted out")
    home = home_after_opening()
    assert "migration plan" not in home and "unblocking the release" not in home
    assert them not in home
