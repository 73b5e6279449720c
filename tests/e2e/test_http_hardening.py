"""The real bot (`peerpulse run --http`, gunicorn) attacked over real HTTP: unsigned requests
with malformed headers, oversized bodies, signed but malformed bodies. Each is refused with
a 4xx, nothing reaches Slack or any response_url, and the log holds no traceback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.devkit.signed_client import FORM, JSON
from bot.server import MAX_BODY_BYTES
from tests.bot.test_server import (
    MALFORMED_BODIES,
    MALFORMED_HEADERS,
    VICTIM,
    Listener,
    _raw_request,
    _sig,
)
from tests.e2e.conftest import Stack, wait_for_roster
from tests.e2e.test_durability import children

pytestmark = pytest.mark.slow


def _side_effects(stack: Stack) -> list[str]:
    return [c.method for c in stack.sandbox.calls()
            if c.method not in ("auth.test", "users.list")]


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM): a body read then freed still shows."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def test_two_hundred_unsigned_requests_make_the_bot_do_nothing(
        start_stack: Callable[..., Stack]) -> None:
    """Issue: a non-numeric X-Slack-Request-Timestamp made the bot DM the victim, POST to the
    response_url the body named, answer 500 and log a traceback; 200 requests, 200 DMs."""
    stack = start_stack()
    wait_for_roster(stack)
    stack.sandbox.reset_calls()
    listener = Listener()
    try:
        command = {"command": "/network", "text": "help", "user_id": VICTIM,
                   "channel_id": "C0GENERAL", "response_url": listener.url}
        bodies = [
            (urlencode(command).encode(), FORM),
            (urlencode({"command": "/kudos", "text": "x", "user_id": VICTIM}).encode(), FORM),
            (urlencode({"payload": json.dumps({
                "type": "block_actions", "user": {"id": VICTIM}, "response_url": listener.url,
                "actions": [{"action_id": "poll_pick", "value": "1"}]})}).encode(), FORM),
            (json.dumps({"type": "event_callback", "user_id": VICTIM, "event": {
                "type": "team_join", "user": {"id": "UEVIL"}}}).encode(), JSON),
        ]
        statuses = set()
        for i in range(200):
            headers = list(MALFORMED_HEADERS.values())[i % len(MALFORMED_HEADERS)]
            body, kind = bodies[i % len(bodies)]
            statuses.add(stack.slack.send(body, kind, sign=False, headers=headers).status)
        assert statuses == {401}
        time.sleep(1.0)
        assert _side_effects(stack) == [] and listener.hits == []
        assert stack.sandbox.messages() == [] and stack.sandbox.ephemerals() == []
    finally:
        listener.close()
    assert "Traceback" not in stack.bot.log_path.read_text()


def test_a_huge_body_is_refused_without_being_read(start_stack: Callable[..., Stack]) -> None:
    """Issue: an unsigned 300 MB POST grew the worker by 579 MB before its 401."""
    stack = start_stack()
    wait_for_roster(stack)
    head = "POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    # Declared 300 MB, 10 bytes sent: answered at once, not after waiting for the rest.
    started = time.monotonic()
    answer = _raw_request(stack.bot.url, head + "Content-Length: 300000000", b"0123456789")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 3
    # A chunked body (no Content-Length) is read up to the limit only.
    chunk = b"a" * 65536
    stream = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                      for _ in range(MAX_BODY_BYTES // len(chunk) + 2))
    answer = _raw_request(stack.bot.url, head + "Transfer-Encoding: chunked",
                          stream + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    # A real 64 MB body: the worker's peak memory does not grow with it.
    worker = children(stack.bot.proc.pid)[0]  # type: ignore[union-attr]  # gunicorn's worker
    before = _peak_rss_kib(worker)
    size = 64 * 1024 * 1024
    host, port = stack.bot.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode())
        sent, block = 0, b"x" * (1024 * 1024)
        try:
            while sent < size:
                sock.sendall(block)
                sent += len(block)
        except OSError:  # the bot answered 413 and closed the connection
            pass
    time.sleep(0.5)
    grown = _peak_rss_kib(worker) - before
    assert grown < 16 * 1024, f"worker grew by {grown} KiB"
    assert sent < size, "the bot kept reading a body it had refused"
    stack.bot.wait_healthy(5)
    assert "Traceback" not in stack.bot.log_path.read_text()


def test_signed_but_malformed_bodies_answer_400(start_stack: Callable[..., Stack]) -> None:
    """Issue: bad JSON in payload=, a JSON list, a form body sent as JSON, a view without
    type... answered 500 and logged a traceback."""
    stack = start_stack()
    wait_for_roster(stack)
    stack.sandbox.reset_calls()
    for case, (body, kind) in MALFORMED_BODIES.items():
        ts = str(int(time.time()))
        answer = stack.slack.send(body, kind, sign=False, timestamp=ts, signature=_sig(
            body, ts, stack.slack.signing_secret))
        assert answer.status == 400, (case, answer.status, answer.text)
    assert _side_effects(stack) == []
    assert "Traceback" not in stack.bot.log_path.read_text()
