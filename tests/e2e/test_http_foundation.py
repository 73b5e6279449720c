"""The real bot over real HTTP: signatures, url_verification, health, roster sync, events."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Person, ProcessedEvent, Workspace
from tests.e2e.conftest import Stack, wait_until

pytestmark = pytest.mark.slow


def people_count(stack: Stack, active_only: bool = False) -> int:
    with Session(stack.engine) as s:
        q = select(func.count(Person.id))
        if active_only:
            q = q.where(Person.is_active.is_(True))
        return int(s.scalar(q) or 0)


def processed_events(stack: Stack) -> int:
    with Session(stack.engine) as s:
        return int(s.scalar(select(func.count()).select_from(ProcessedEvent)) or 0)


def test_healthz_answers_200(start_stack: Callable[..., Stack]) -> None:
    stack = start_stack()
    with urllib.request.urlopen(f"{stack.bot.url}/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"ok": True}


def test_clients_that_close_late_do_not_hold_up_the_others(
        start_stack: Callable[..., Stack]) -> None:
    # Slack's clients are across the internet: they read the answer, and their close
    # arrives a round trip later. Each client here closes a second after reading; the
    # others must be answered meanwhile (gunicorn 26+ waited for each close on the one
    # thread that accepts connections: the eighth answer came after 7 s).
    stack = start_stack()
    url = urlsplit(stack.bot.url)
    answered: list[float] = []
    start = time.monotonic()

    def client() -> None:
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
            answered.append(time.monotonic() - start)
            time.sleep(1.0)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(20)
    assert len(answered) == 8
    assert max(answered) < 1.0, sorted(answered)


def test_roster_syncs_across_pages_and_survives_a_429(
        sandbox, org, start_stack: Callable[..., Stack]) -> None:  # type: ignore[no-untyped-def]
    sandbox.fail("users.list", 429, retry_after=1, times=1)
    stack = start_stack()
    humans = len(org.people)
    wait_until(lambda: people_count(stack) == humans + len(org.deleted), what="roster sync")
    calls = sandbox.calls("users.list")
    statuses = [c.status for c in calls]
    assert statuses.count(429) == 1
    assert len([c for c in calls if c.status == 200]) > 1, "sync must follow the cursor"
    assert all(int(c.params.get("limit", 0)) > 0 for c in calls)
    with Session(stack.engine) as s:
        ids = set(s.scalars(select(Person.slack_id)))
        assert "USLACKBOT" not in ids and not ids & set(org.bots)
        for gone in org.deleted:
            assert s.scalars(select(Person).where(Person.slack_id == gone)).one().is_active is False
        ws = s.scalars(select(Workspace)).one()
        assert ws.slack_team_id == sandbox.team_id and ws.roster_synced_at is not None


def test_url_verification_is_answered(start_stack: Callable[..., Stack]) -> None:
    stack = start_stack()
    resp = stack.slack.url_verification("chal-123")
    assert resp.status == 200
    assert "chal-123" in resp.text


@pytest.mark.parametrize("tamper", ["unsigned", "bad signature", "ten minutes old"])
def test_requests_that_are_not_from_slack_get_401_and_change_nothing(
        start_stack: Callable[..., Stack], org, tamper: str) -> None:  # type: ignore[no-untyped-def]
    stack = start_stack()
    humans = len(org.people) + len(org.deleted)
    wait_until(lambda: people_count(stack) == humans, what="roster sync")
    newcomer = dict(org.users[-1], id="UNEWCOMER", name="newcomer", deleted=False,
                    is_bot=False)
    envelope = {"type": "event_callback", "team_id": stack.sandbox.team_id, "api_app_id": "A1",
                "event_id": "EvTAMPER", "event_time": int(time.time()),
                "event": {"type": "team_join", "user": newcomer}}
    body = json.dumps(envelope).encode()
    kwargs: dict[str, object] = {
        "unsigned": {"sign": False},
        "bad signature": {"signature": "v0=" + "0" * 64},
        "ten minutes old": {"timestamp": int(time.time()) - 600},
    }[tamper]
    resp = stack.slack.send(body, "application/json", **kwargs)  # type: ignore[arg-type]
    assert resp.status == 401
    form = urlencode({"command": "/network", "text": "help", "user_id": "U1",
                      "team_id": stack.sandbox.team_id}).encode()
    resp = stack.slack.send(form, "application/x-www-form-urlencoded", **kwargs)  # type: ignore[arg-type]
    assert resp.status == 401
    time.sleep(0.3)
    assert people_count(stack) == humans
    assert processed_events(stack) == 0
    assert stack.sandbox.messages() == [] and stack.sandbox.ephemerals() == []


def test_member_events_update_the_roster_once_even_when_redelivered(
        start_stack: Callable[..., Stack], org) -> None:  # type: ignore[no-untyped-def]
    stack = start_stack()
    base = len(org.people) + len(org.deleted)
    wait_until(lambda: people_count(stack) == base, what="roster sync")
    newcomer = {"id": "UNEWCOMER", "name": "nia", "real_name": "Nia Newcomer", "deleted": False,
                "is_bot": False, "tz": "Europe/London",
                "profile": {"email": "nia@example.com", "display_name": "Nia"}}
    first = stack.slack.event({"type": "team_join", "user": newcomer}, event_id="EvJOIN1")
    assert first.status == 200
    wait_until(lambda: people_count(stack) == base + 1, what="team_join applied")
    again = stack.slack.event({"type": "team_join", "user": newcomer}, event_id="EvJOIN1",
                              retry_num=1)
    assert again.status == 200
    leaver = org.people[5].id
    bot_user = {"id": org.bots[0], "name": "deploybot", "is_bot": True, "deleted": False}
    stack.slack.event({"type": "user_change", "user": bot_user}, event_id="EvBOT")
    user = next(u for u in org.users if u["id"] == leaver)
    stack.slack.event({"type": "user_change", "user": dict(user, deleted=True)}, event_id="EvGONE")

    def leaver_inactive() -> bool:
        with Session(stack.engine) as s:
            p = s.scalars(select(Person).where(Person.slack_id == leaver)).one()
            return not p.is_active
    wait_until(leaver_inactive, what="deactivation applied")
    assert people_count(stack) == base + 1
    assert processed_events(stack) == 3  # EvJOIN1 once, EvBOT, EvGONE
