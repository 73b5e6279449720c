"""Poll rounds end to end: the real bot over HTTP, its background sender and the sandbox.

Rounds are opened with `peerpulse poll send-now` (the schedule's code path) against the
bot's database; the bot's own sender delivers them; answers arrive as signed block actions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.cli import main
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import Organisation, simulate_organisation
from bot.models import OutboxMessage, Person, Tie
from tests.e2e.conftest import Stack, wait_until

pytestmark = pytest.mark.slow

FAST = {"PEERPULSE_SEND_PER_MINUTE": "6000"}


@pytest.fixture
def org() -> Organisation:
    return simulate_organisation(n_people=130, n_teams=6, seed=11)


def synced(stack: Stack, org: Organisation) -> None:
    def done() -> bool:
        with Session(stack.engine) as s:
            return (s.scalar(select(func.count(Person.id))) or 0) == len(org.people) + len(
                org.deleted)
    wait_until(done, timeout=30, what="roster sync")


def send_now(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["poll", "send-now", *args]) == 0


def outbox(stack: Stack) -> Counter[str]:
    with Session(stack.engine) as s:
        return Counter(s.scalars(select(OutboxMessage.status)))


def poll_dms(sandbox: SlackSandbox) -> Counter[str]:
    """Delivered poll DMs per recipient channel."""
    return Counter(m["channel"] for m in sandbox.messages()
                   if (m.get("metadata") or {}).get("event_type") == "peerpulse_outbox")


def active_ids(org: Organisation) -> list[str]:
    return [p.id for p in org.people if p.id not in org.deleted]


def test_a_round_to_130_people_through_30_percent_429s_delivers_one_dm_each(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    stack = start_stack(url, **FAST)
    synced(stack, org)
    sandbox.rate_limit("chat.postMessage", 0.3, retry_after=1, seed=2)
    send_now(monkeypatch, url, "--sample", "1")
    people = active_ids(org)
    assert len(people) >= 120
    wait_until(lambda: outbox(stack) == {"sent": len(people)}, timeout=60,
               what="every DM sent")
    assert poll_dms(sandbox) == Counter({sandbox.dm_channel(p): 1 for p in people})
    statuses = Counter(c.status for c in sandbox.calls("chat.postMessage"))
    assert statuses[429] >= 20 and statuses[200] == len(people)


def test_a_sender_killed_mid_round_finishes_after_restart_without_loss_or_duplicate(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    env = {"PEERPULSE_SEND_PER_MINUTE": "1200"}
    first = start_stack(url, **env)
    synced(first, org)
    send_now(monkeypatch, url, "--sample", "1")
    wait_until(lambda: sum(poll_dms(sandbox).values()) >= 30, timeout=30, what="some DMs")
    assert first.bot.proc is not None
    first.bot.proc.kill()  # SIGKILL: no clean shutdown, rows may be left mid-send
    first.bot.proc.wait()
    delivered_before = sum(poll_dms(sandbox).values())
    people = active_ids(org)
    assert delivered_before < len(people), "the kill must land mid-round"
    second = start_stack(url, **env)
    wait_until(lambda: outbox(second) == {"sent": len(people)}, timeout=60,
               what="the round finished after restart")
    assert poll_dms(sandbox) == Counter({sandbox.dm_channel(p): 1 for p in people})


def _poll_message(sandbox: SlackSandbox, user: str) -> dict[str, Any]:
    return sandbox.wait_for(lambda: sandbox.messages(user), timeout=20)[0]


_ORIGINAL: dict[str, dict[str, Any]] = {}


def _click(stack: Stack, user: str, action_id: str, *, named: list[str] | None = None) -> Any:
    """Click in the poll DM as first delivered (a second click comes from a stale copy)."""
    message = _ORIGINAL.setdefault(f"{stack.bot.url}:{user}", _poll_message(stack.sandbox, user))
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    kwargs: dict[str, Any] = {"block_id": actions["block_id"], "message_ts": message["ts"],
                              "channel_id": stack.sandbox.dm_channel(user), "message": message}
    if named is not None:
        return stack.slack.block_action(user, action_id, action_type="multi_users_select",
                                        action={"selected_users": named}, **kwargs)
    button = next(e for e in actions["elements"] if e["action_id"] == action_id)
    return stack.slack.block_action(user, action_id, button["value"], **kwargs)


def _ephemeral(stack: Stack, response: Any) -> str:
    answers = stack.sandbox.wait_for(lambda: stack.sandbox.responses(response.response_key))
    return str(answers[-1]["text"])


def poll_ties(stack: Stack) -> list[tuple[str, str]]:
    with Session(stack.engine) as s:
        src = select(Person.slack_id).where(Person.id == Tie.source_id).scalar_subquery()
        tgt = select(Person.slack_id).where(Person.id == Tie.target_id).scalar_subquery()
        return [(a, b) for a, b in s.execute(select(src, tgt).where(Tie.origin == "poll"))]


def test_answers_update_the_dm_once_and_duplicates_or_bad_names_add_nothing(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    stack = start_stack(url, **FAST)
    synced(stack, org)
    send_now(monkeypatch, url, "--sample", "0.1", "--question", "advice")
    wait_until(lambda: outbox(stack).get("sent", 0) == 13, what="13 DMs sent")
    asked = sorted(uid for uid in active_ids(org) if sandbox.messages(uid))
    alice, bob, carol = asked[:3]
    others = [p for p in active_ids(org) if p not in (alice, bob, carol)][:2]

    first = _click(stack, alice, "poll_pick", named=others)
    assert first.status == 200
    sandbox.wait_for(lambda: "Thank you" in _poll_message(sandbox, alice)["text"])
    updated = _poll_message(sandbox, alice)
    assert not [b for b in updated["blocks"] if b["type"] == "actions"]
    assert sorted(poll_ties(stack)) == sorted((alice, o) for o in others)

    again = _click(stack, alice, "poll_pick", named=[carol])
    assert "already answered" in _ephemeral(stack, again)
    nobody = _click(stack, alice, "poll_nobody")
    assert "already answered" in _ephemeral(stack, nobody)

    myself = _click(stack, bob, "poll_pick", named=[bob, others[0]])
    assert "cannot name yourself" in _ephemeral(stack, myself)
    a_bot = _click(stack, bob, "poll_pick", named=[org.bots[0]])
    assert "not bots" in _ephemeral(stack, a_bot)
    gone = _click(stack, bob, "poll_pick", named=[org.deleted[0]])
    assert "deactivated" in _ephemeral(stack, gone)
    assert len(poll_ties(stack)) == 2

    _click(stack, carol, "poll_pause")
    sandbox.wait_for(lambda: "paused" in _poll_message(sandbox, carol)["text"])
    with Session(stack.engine) as s:
        paused = s.scalars(select(Person.polls_paused).where(Person.slack_id == carol)).one()
        jobs = set(s.scalars(text("SELECT id FROM apscheduler_jobs")))
    assert paused is True
    assert "poll-helped" in jobs, "the poll schedule lives in the persistent job store"
    assert all(t[0] == alice for t in poll_ties(stack))
    with Session(stack.engine) as s:
        kinds = set(s.scalars(select(Tie.kind).where(Tie.origin == "poll")))
    assert kinds == {"advice"}
