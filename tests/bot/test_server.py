"""The HTTP edge (`bot.server.make_wsgi`) in front of the real Bolt app, over real HTTP:
requests Slack did not sign get 401 and cause nothing, big bodies get 413 unread, signed
but malformed bodies get 400 (never 500), and the error handler never acts on an unsigned
body even when the edge is bypassed."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.app import build_services, create_app, identify_workspace
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.signed_client import FORM, JSON, Response, SignedClient
from bot.server import MAX_BODY_BYTES, make_wsgi, signed_by_slack
from tests.handlers.live import running_bot

SECRET = "edge-secret"
OWNER, ALEX, VICTIM = "UOWNER", "UALEX", "UVICTIM"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class Listener:
    """A local HTTP server standing for any address an attacker could name as response_url."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, bytes]] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hits.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Bot:
    url: str
    slack: SignedClient
    sandbox: SlackSandbox
    listener: Listener

    def side_effects(self) -> list[Any]:
        """Everything the bot did to the outside world after start-up."""
        posted = [c.method for c in self.sandbox.calls()
                  if c.method not in ("auth.test", "users.list")]
        return posted + self.listener.hits


def _serve(wsgi: Callable[..., Any]) -> tuple[Any, str]:
    httpd = make_server("127.0.0.1", 0, wsgi, server_class=_Server, handler_class=_Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


@contextmanager
def _running_bot(tmp_path: Path, *, behind_edge: bool, **env: str) -> Iterator[Bot]:
    with SlackSandbox() as sandbox:
        sandbox.add_users([{"id": u, "name": u.lower(), "deleted": False, "is_bot": False}
                           for u in (OWNER, ALEX, VICTIM)])
        settings = load_settings(None, SLACK_BOT_TOKEN=sandbox.token,
                                 SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=sandbox.base_url,
                                 DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
                                 PEERPULSE_OWNERS=OWNER, **env)
        services = build_services(settings)
        identify_workspace(services)
        app = create_app(settings, services)
        httpd, url = _serve(make_wsgi(app, signing_secret=SECRET) if behind_edge
                            else SlackRequestHandler(app))
        listener = Listener()
        sandbox.reset_calls()
        try:
            yield Bot(url, SignedClient(url, SECRET, sandbox.team_id, response_urls=sandbox),
                      sandbox, listener)
        finally:
            httpd.shutdown()
            listener.close()
            services.sessions.kw["bind"].dispose()


@pytest.fixture(params=["edge", "bolt alone"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bot]:
    """The real app behind the edge, or behind Bolt's own WSGI adapter ("bolt alone": the
    edge bypassed, so what is tested is the app's own error handling)."""
    with _running_bot(tmp_path, behind_edge=request.param == "edge") as running:
        yield running


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Bot]:
    with _running_bot(tmp_path, behind_edge=True) as running:
        yield running


# ---------------------------------------------------------------------- signatures

def _sig(body: bytes, ts: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body,
                            hashlib.sha256).hexdigest()


def test_signed_by_slack_accepts_slack_signatures_and_refuses_everything_else() -> None:
    now = 1_700_000_000
    body, ts = b'{"type":"event_callback"}', str(now)
    good = _sig(body, ts)
    assert signed_by_slack(SECRET, body, ts, good, now=now)
    refused = {
        "no timestamp": (ts and None, good),
        "empty timestamp": ("", good),
        "letters": ("abc", good),
        "float": (f"{now}.5", good),
        "negative": (f"-{now}", good),
        "spaces": (f" {now}", good),
        "arabic-indic digits": ("١٧٠٠٠٠٠٠٠٠", good),
        "huge": ("9" * 40, good),
        "stale": (str(now - 301), _sig(body, str(now - 301))),
        "future": (str(now + 301), _sig(body, str(now + 301))),
        "no signature": (ts, None),
        "not hex": (ts, "v0=" + "z" * 64),
        "other secret": (ts, _sig(body, ts, "other")),
        "non-ascii signature": (ts, "v0=é"),
    }
    for what, (timestamp, signature) in refused.items():
        assert not signed_by_slack(SECRET, body, timestamp, signature, now=now), what
    assert not signed_by_slack("", body, ts, good, now=now)
    assert not signed_by_slack(SECRET, body + b" ", ts, good, now=now)


# Header sets that are not Slack's signature: whatever they hold, nothing may happen.
MALFORMED_HEADERS: dict[str, dict[str, str]] = {
    "non-numeric timestamp": {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
    "float timestamp": {"X-Slack-Request-Timestamp": "1.5e9", "X-Slack-Signature": "v0=00"},
    "empty timestamp": {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": "v0=00"},
    "overflowing timestamp": {"X-Slack-Request-Timestamp": "9" * 400,
                              "X-Slack-Signature": "v0=00"},
    "no timestamp": {"X-Slack-Signature": "v0=" + "0" * 64},
    "no signature": {"X-Slack-Request-Timestamp": str(int(time.time()))},
    "garbage signature": {"X-Slack-Request-Timestamp": str(int(time.time())),
                          "X-Slack-Signature": "garbage"},
    "nothing": {},
}


def _attacks(bot: Bot) -> list[tuple[bytes, str]]:
    """Bodies naming a victim, a channel and response_urls the attacker controls."""
    command = urlencode({"command": "/network", "text": "help", "user_id": VICTIM,
                         "channel_id": "C0GENERAL", "response_url": bot.listener.url,
                         "team_id": bot.sandbox.team_id}).encode()
    command_no_url = urlencode({"command": "/kudos", "text": "x", "user_id": VICTIM}).encode()
    action = urlencode({"payload": json.dumps({
        "type": "block_actions", "user": {"id": VICTIM}, "channel": {"id": "C0GENERAL"},
        "response_url": bot.sandbox.response_url("attack"),
        "actions": [{"action_id": "poll_pick", "value": "1"}]})}).encode()
    event = json.dumps({"type": "event_callback", "user_id": VICTIM,
                        "event": {"type": "team_join", "user": {"id": "UEVIL"}}}).encode()
    return [(command, FORM), (command_no_url, FORM), (action, FORM), (event, JSON)]


@pytest.mark.parametrize("headers", list(MALFORMED_HEADERS), ids=list(MALFORMED_HEADERS))
def test_unsigned_requests_get_401_and_the_bot_does_nothing(bot: Bot, headers: str) -> None:
    for body, kind in _attacks(bot):
        answer = bot.slack.send(body, kind, sign=False, headers=MALFORMED_HEADERS[headers])
        assert answer.status == 401, (headers, answer.status, answer.text)
    time.sleep(0.3)  # anything the bot might do after answering has had time to happen
    assert bot.side_effects() == []
    assert bot.sandbox.responses("attack") == []


@pytest.mark.parametrize("behind_edge", [True, False], ids=["edge", "bolt alone"])
def test_http_requests_are_verified_even_with_an_app_token_set(tmp_path: Path,
                                                               behind_edge: bool) -> None:
    """`peerpulse run --http` with SLACK_APP_TOKEN also set used to turn Bolt's request
    verification off: an unsigned /network help was answered."""
    with _running_bot(tmp_path, behind_edge=behind_edge, SLACK_APP_TOKEN="xapp-1") as bot:
        answer = bot.slack.slash_command("/network", "help", ALEX, sign=False)
        assert answer.status == 401
        time.sleep(0.3)
        assert bot.side_effects() == [] and bot.sandbox.responses(answer.response_key or "") == []
        assert bot.slack.slash_command("/network", "help", ALEX).status == 200


def test_the_app_starts_without_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    # Bolt reads SLACK_BOT_TOKEN from the environment too, and warned at every start that
    # the client given takes precedence over it.
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    with running_bot(tmp_path, [ALEX]) as live:
        assert live.slack.slash_command("/network", "help", ALEX).status == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# ---------------------------------------------------------------------- body size

def _raw_request(url: str, head: str, body: bytes = b"", *, timeout: float = 5.0) -> bytes:
    """Send ``head`` (request line and headers) and ``body`` on a socket; return the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_body_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # A declared 300 MB body of which 10 bytes ever arrive: an edge that tried to read it
    # would wait for the rest (and time out); the edge answers at once.
    httpd, url = _serve(make_wsgi(_explode, signing_secret=SECRET))  # type: ignore[arg-type]
    started = time.monotonic()
    answer = _raw_request(url, "POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: application/json\r\nContent-Length: 300000000",
                          b"0123456789")
    assert answer.startswith(b"HTTP/1.0 413") or answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 2
    for length in ("abc", "-1", "1e3"):
        answer = _raw_request(url, "POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                              f"Content-Length: {length}")
        assert b" 400 " in answer.split(b"\r\n")[0], (length, answer)
    httpd.shutdown()


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("Bolt must not see this request")


def test_the_limit_is_exact(edge: Bot) -> None:
    pad = MAX_BODY_BYTES - len(b'{"type":"x","pad":""}')
    at_limit = json.dumps({"type": "x", "pad": "a" * pad}, separators=(",", ":")).encode()
    assert len(at_limit) == MAX_BODY_BYTES
    assert edge.slack.send(at_limit, JSON).status == 404  # read, verified, nobody listens
    # One byte more is refused from its Content-Length alone (sending the body as well
    # would race the server closing the connection on it).
    answer = _raw_request(edge.url, "POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                          f"Content-Length: {MAX_BODY_BYTES + 1}")
    assert answer.split(b"\r\n")[0].endswith(b"413 Request Entity Too Large"), answer


# ---------------------------------------------------------------------- malformed bodies

def _form(payload: Any) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str)
                      else json.dumps(payload)}).encode()


VIEW = {"id": "V1", "callback_id": "kudos_modal", "state": {"values": {}}}
MALFORMED_BODIES: dict[str, tuple[bytes, str]] = {
    "bad JSON in payload=": (_form("{not json"), FORM),
    "a JSON list": (b"[1, 2]", JSON),
    "a JSON string": (b'"hello"', JSON),
    "a JSON number": (b"42", JSON),
    "a form body sent as JSON": (b"command=%2Fkudos&text=hi&user_id=UALEX", JSON),
    "bad JSON": (b'{"type": "event_callback",', JSON),
    "not UTF-8": (b"\xff\xfe\x00payload=1", FORM),
    "payload= holding a list": (_form([{"type": "block_actions"}]), FORM),
    "a view without type": (_form({"type": "view_submission", "user": {"id": ALEX},
                                   "view": VIEW}), FORM),
    "a view that is a string": (_form({"type": "view_submission", "user": {"id": ALEX},
                                       "view": "kudos_modal"}), FORM),
    "a view closed without callback_id": (_form({"type": "view_closed", "user": {"id": ALEX},
                                                 "view": {"type": "modal"}}), FORM),
    "actions that are not a list": (_form({"type": "block_actions", "user": {"id": ALEX},
                                           "actions": "poll_pick"}), FORM),
    "actions null": (_form({"type": "block_actions", "user": {"id": ALEX},
                            "actions": None}), FORM),
    "an action without action_id": (_form({"type": "block_actions", "user": {"id": ALEX},
                                           "actions": [{"value": "1"}]}), FORM),
    "an event that is a string": (json.dumps({"type": "event_callback",
                                              "event": "team_join"}).encode(), JSON),
    "an event without type": (json.dumps({"type": "event_callback",
                                          "event": {"user": "U1"}}).encode(), JSON),
    "a nested channel that is a number": (json.dumps({
        "type": "event_callback", "event": {"type": "reaction_added", "user": ALEX,
                                            "item": {"channel": 7}}}).encode(), JSON),
    "response_urls of strings": (_form({"type": "view_submission", "user": {"id": ALEX},
                                        "view": dict(VIEW, type="modal"),
                                        "response_urls": ["http://x"]}), FORM),
    "a type that is a number": (json.dumps({"type": 5}).encode(), JSON),
    "a user that is a list": (_form({"type": "shortcut", "callback_id": "give_kudos",
                                     "user": ["UALEX"]}), FORM),
}


def _send_signed(bot: Bot, body: bytes, kind: str) -> Response:
    ts = str(int(time.time()))  # signed by hand: SignedClient signs text, not raw bytes
    return bot.slack.send(body, kind, sign=False, timestamp=ts, signature=_sig(body, ts))


@pytest.mark.parametrize("case", list(MALFORMED_BODIES), ids=list(MALFORMED_BODIES))
def test_signed_but_malformed_bodies_get_400(edge: Bot, case: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    body, kind = MALFORMED_BODIES[case]
    answer = _send_signed(edge, body, kind)
    assert answer.status == 400, (answer.status, answer.text)
    assert "malformed request" in answer.text
    assert edge.side_effects() == []
    assert not [r for r in caplog.records if r.exc_info], "no traceback in the log"


def _slack_payloads(client: SignedClient) -> list[tuple[str, dict[str, Any]]]:
    """Every kind of request the bot serves, as the signed client would send it."""
    built: list[tuple[str, dict[str, Any]]] = []

    def capture(body: bytes, content_type: str, **_: Any) -> Response:
        if content_type == JSON:
            built.append(("json", json.loads(body)))
        else:
            fields = dict(parse_qsl(body.decode()))
            built.append(("payload", json.loads(fields["payload"])) if "payload" in fields
                         else ("form", fields))
        return Response(200, {}, b"")

    client.send = capture  # type: ignore[method-assign]
    # As a colleague, not an owner: owner-only work (snapshots) is refused, and quickly.
    client.slash_command("/kudos", f"<@{OWNER}> thanks #teamwork", ALEX)
    client.slash_command("/network", "help", ALEX)
    for action in ("poll_pick", "poll_nobody", "poll_pause", "owner_snapshot", "forget_confirm"):
        client.block_action(ALEX, action, "1")
    client.block_action(ALEX, "poll_pick", "1", view={"id": "V1", "type": "home"})
    client.view_submission(ALEX, "kudos_modal", {})
    client.view_submission(ALEX, "settings_modal", {})
    client.view_closed(ALEX, "kudos_modal")
    client.shortcut("give_kudos", ALEX)
    client.message_shortcut("kudos_for_message", ALEX, OWNER, "hi")
    client.event({"type": "user_change", "user": {"id": ALEX, "name": "a"}})
    client.reaction(ALEX, "clap", OWNER)
    client.app_home_opened(ALEX)
    return built


def _paths(doc: dict[str, Any], prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    for key, value in doc.items():
        yield (*prefix, key)
        if len(prefix) < 2 and isinstance(value, dict):
            yield from _paths(value, (*prefix, key))
        if len(prefix) < 2 and isinstance(value, list) and value and isinstance(value[0], dict):
            yield from _paths(value[0], (*prefix, key, 0))


_DELETE = object()


def _mutations() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field (two levels deep) of every payload the bot serves, replaced by a value
    of the wrong kind, or removed."""
    for kind, base in _slack_payloads(SignedClient("http://unused", SECRET)):
        for path in _paths(base):
            for value in (None, "x", 7, [], {}, [{}], _DELETE):
                if kind == "form" and not (value is _DELETE or isinstance(value, str)):
                    continue
                mutated = copy.deepcopy(base)
                node = mutated
                for step in path[:-1]:
                    node = node[step]
                if value is _DELETE:
                    del node[path[-1]]
                else:
                    node[path[-1]] = value
                yield kind, mutated


@pytest.mark.slow
def test_no_mutation_of_a_slack_payload_gets_a_500(edge: Bot) -> None:
    """A seeded sample of the mutations (all of them take minutes): never a 500."""
    bodies = {(json.dumps(m).encode() if kind == "json" else
               _form(m) if kind == "payload" else urlencode(m).encode()): kind
              for kind, m in _mutations()}
    assert len(bodies) > 2000
    failures, statuses = [], Counter[int]()
    for body in random.Random(10).sample(sorted(bodies), 600):
        answer = _send_signed(edge, body, JSON if bodies[body] == "json" else FORM)
        statuses[answer.status] += 1
        if answer.status >= 500:
            failures.append((body[:200], answer.status))
    assert failures == [], failures[:10]
    assert statuses[400] > 50, statuses  # the edge did refuse many


@pytest.mark.parametrize("kind", ["command", "block_actions", "event", "view"])
def test_the_edge_hands_bolt_the_request_bolt_would_build_parsing_the_body_once(
        kind: str) -> None:
    # `make_wsgi` parses each body once, to check it, and gives Bolt that parse: the
    # request must be the one `BoltRequest(body=text)` builds (Bolt may change inside).
    from slack_bolt import BoltRequest
    from slack_bolt.request.internals import parse_body

    from bot.server import _bolt_request

    team = {"id": "T1", "domain": "acme"}
    payloads: dict[str, tuple[str, str]] = {
        "command": (urlencode({"command": "/kudos", "text": "<@U2> thanks", "user_id": "U1",
                               "team_id": "T1", "channel_id": "C1", "trigger_id": "1.2.3",
                               "response_url": "https://hooks.example/r"}), FORM),
        "block_actions": (urlencode({"payload": json.dumps({
            "type": "block_actions", "team": team, "user": {"id": "U1", "team_id": "T1"},
            "channel": {"id": "D1"}, "container": {"type": "message", "message_ts": "1.2"},
            "actions": [{"action_id": "poll_pick", "block_id": "poll:7",
                         "selected_users": ["U2", "U3"]}], "response_url": "https://r"})}),
            FORM),
        "event": (json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "Ev1",
                              "authorizations": [{"team_id": "T1", "user_id": "UB",
                                                  "is_enterprise_install": False}],
                              "event": {"type": "reaction_added", "user": "U1",
                                        "item_user": "U2", "reaction": "clap",
                                        "item": {"type": "message", "channel": "C1",
                                                 "ts": "1.2"}}}), JSON),
        "view": (urlencode({"payload": json.dumps({
            "type": "view_submission", "team": team, "user": {"id": "U1"},
            "view": {"type": "modal", "callback_id": "kudos", "state": {"values": {}}}})}),
            FORM),
    }
    text, content_type = payloads[kind]
    headers = {"content-type": content_type, "x-slack-request-timestamp": "1700000000"}
    ours = _bolt_request(text, parse_body(text, content_type), "a=1", headers)
    bolts = BoltRequest(body=text, query="a=1", headers=headers)
    assert (ours.raw_body, ours.body, ours.query, ours.headers, ours.content_type,
            ours.mode, ours.lazy_only, ours.lazy_function_name) == (
        bolts.raw_body, bolts.body, bolts.query, bolts.headers, bolts.content_type,
        bolts.mode, bolts.lazy_only, bolts.lazy_function_name)
    assert dict(ours.context) == dict(bolts.context) and ours.context["team_id"] == "T1"
    assert vars(ours).keys() == vars(bolts).keys()  # nothing Bolt sets is left out
    assert ours.to_copyable().body == bolts.body  # a lazy listener's copy parses raw_body
