"""SignedClient sends requests that Slack's own SignatureVerifier accepts, shaped like Slack's."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.devkit.sandbox import SlackSandbox
from bot.devkit.signed_client import SignedClient

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    valid: bool


@dataclass
class Receiver:
    """A tiny stand-in for the bot: verifies like Bolt does and records what arrived."""

    url: str
    seen: list[Received] = field(default_factory=list)

    @property
    def last(self) -> Received:
        return self.seen[-1]

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.last.body.decode()).items()}

    def payload(self) -> dict[str, Any]:
        return json.loads(self.form()["payload"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    verifier = SignatureVerifier(SECRET)
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            valid = self.path == "/slack/events" and verifier.is_valid_request(body, headers)
            state.seen.append(Received(body, headers, valid))
            answer = b'{"ok": true}' if valid else b"invalid request"
            self.send_response(200 if valid else 401)
            self.send_header("Content-Type", "application/json" if valid else "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def client(receiver: Receiver) -> SignedClient:
    return SignedClient(receiver.url, SECRET)


def test_slash_command_is_signed_and_form_encoded(receiver: Receiver, client: SignedClient) -> None:
    answer = client.slash_command("/kudos", "<@U2|ann> thanks #teamwork", "U1")
    assert answer.status == 200 and answer.json == {"ok": True}
    assert receiver.last.valid
    assert receiver.last.headers["content-type"] == "application/x-www-form-urlencoded"
    form = receiver.form()
    for key in (
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "response_url",
        "trigger_id",
    ):
        assert form[key], key
    assert form["command"] == "/kudos" and form["text"] == "<@U2|ann> thanks #teamwork"
    assert form["response_url"] == answer.response_url


def test_unsigned_badly_signed_and_stale_requests_are_rejected(
    receiver: Receiver, client: SignedClient
) -> None:
    body = b"command=%2Fkudos&text=hi"
    form = "application/x-www-form-urlencoded"
    assert client.send(body, form, sign=False).status == 401
    assert "x-slack-signature" not in receiver.last.headers
    assert client.send(body, form, signature="v0=" + "0" * 64).status == 401
    assert client.send(body, form, timestamp=int(time.time()) - 600).status == 401
    stale = receiver.last.headers
    assert stale["x-slack-signature"] == client.sign(body, stale["x-slack-request-timestamp"])
    assert client.send(body, form).status == 200


def test_interactions_are_payload_json(receiver: Receiver, client: SignedClient) -> None:
    client.block_action(
        "U1",
        "poll_answer",
        action_type="multi_users_select",
        action={"selected_users": ["U2", "U3"]},
        message_ts="1700000000.000100",
    )
    payload = receiver.payload()
    assert receiver.last.valid
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U1"
    assert payload["actions"][0]["selected_users"] == ["U2", "U3"]
    assert payload["container"]["message_ts"] == "1700000000.000100"
    assert payload["response_url"] and payload["trigger_id"]

    state = {"who": {"users": {"type": "multi_users_select", "selected_users": ["U2"]}}}
    client.view_submission(
        "U1", "kudos_modal", state, private_metadata='{"c": "C1"}', view_id="V123"
    )
    payload = receiver.payload()
    assert payload["type"] == "view_submission"
    assert payload["view"]["callback_id"] == "kudos_modal"
    assert payload["view"]["state"]["values"] == state
    assert payload["view"]["id"] == "V123"
    assert payload["view"]["private_metadata"] == '{"c": "C1"}'

    client.shortcut("give_kudos", "U1")
    assert receiver.payload()["type"] == "shortcut"
    client.message_shortcut("kudos_for_message", "U1", "U9", "great doc")
    payload = receiver.payload()
    assert payload["type"] == "message_action"
    assert payload["message"]["user"] == "U9"
    assert all(r.valid for r in receiver.seen)


def test_events_carry_the_envelope_and_retry_headers(
    receiver: Receiver, client: SignedClient
) -> None:
    client.event(
        {"type": "app_home_opened", "user": "U1", "tab": "home"}, event_id="Ev1", retry_num=1
    )
    envelope = json.loads(receiver.last.body)
    assert receiver.last.valid
    assert receiver.last.headers["content-type"] == "application/json"
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev1"
    assert envelope["team_id"] == "T0SANDBOX" and envelope["authorizations"][0]["is_bot"]
    assert envelope["event"]["event_ts"]
    assert receiver.last.headers["x-slack-retry-num"] == "1"
    assert receiver.last.headers["x-slack-retry-reason"] == "http_timeout"
    client.event({"type": "app_home_opened", "user": "U1"})
    assert "x-slack-retry-num" not in receiver.last.headers
    assert json.loads(receiver.last.body)["event_id"] != "Ev1"


def test_url_verification(receiver: Receiver, client: SignedClient) -> None:
    client.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert json.loads(receiver.last.body)["challenge"].startswith("3eZ")


def test_response_urls_point_at_the_sandbox(receiver: Receiver) -> None:
    with SlackSandbox() as sandbox:
        client = SignedClient(receiver.url, SECRET, response_urls=sandbox)
        answer = client.slash_command("/network", "help", "U1")
        assert answer.response_url and answer.response_key
        WebhookClient(answer.response_url).send(text="Here is how /network works")
        assert sandbox.responses(answer.response_key) == [{"text": "Here is how /network works"}]


def test_a_real_bolt_app_accepts_every_kind_of_request() -> None:
    """Bolt parses the payloads, its verifier accepts the signatures, and what the
    listeners do lands in the sandbox."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with SlackSandbox() as sandbox:
        sandbox.add_users(
            [{"id": "U1", "name": "ann", "deleted": False, "is_bot": False, "profile": {}}]
        )
        app = App(
            signing_secret=SECRET,
            client=WebClient(token=sandbox.token, base_url=sandbox.base_url),
        )
        seen: list[str] = []

        @app.command("/kudos")
        def kudos(ack: Any, respond: Any, command: dict[str, Any]) -> None:
            ack()
            respond(f"thanks from {command['user_id']}")

        @app.action("pick")
        def pick(ack: Any, body: dict[str, Any], client: WebClient) -> None:
            ack()
            client.chat_postMessage(channel=body["user"]["id"], text=body["actions"][0]["value"])

        @app.shortcut("give_kudos")
        def give(ack: Any, shortcut: dict[str, Any], client: WebClient) -> None:
            ack()
            client.views_open(
                trigger_id=shortcut["trigger_id"],
                view={
                    "type": "modal",
                    "callback_id": "kudos_modal",
                    "title": {"type": "plain_text", "text": "Give kudos"},
                    "blocks": [],
                },
            )

        @app.view("kudos_modal")
        def submit(ack: Any, view: dict[str, Any]) -> None:
            seen.append(view["state"]["values"]["who"]["users"]["selected_users"][0])
            ack()

        @app.event("app_home_opened")
        def home(event: dict[str, Any], client: WebClient) -> None:
            client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

        handler = SlackRequestHandler(app)
        server = make_server("127.0.0.1", 0, handler, handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            client = SignedClient(
                f"http://127.0.0.1:{server.server_port}", SECRET, response_urls=sandbox
            )
            answer = client.slash_command("/kudos", "hi", "U1")
            assert answer.status == 200
            key = answer.response_key or ""
            assert sandbox.wait_for(lambda: sandbox.responses(key)) == [{"text": "thanks from U1"}]
            assert client.block_action("U1", "pick", "chosen").status == 200
            assert sandbox.wait_for(lambda: sandbox.messages("U1"))[0]["text"] == "chosen"
            assert client.shortcut("give_kudos", "U1").status == 200
            [modal] = sandbox.wait_for(lambda: sandbox.views(user="U1"))
            state = {"who": {"users": {"type": "multi_users_select", "selected_users": ["U2"]}}}
            assert client.view_submission("U1", "kudos_modal", state, view=modal).status == 200
            assert seen == ["U2"]
            assert client.app_home_opened("U1").status == 200
            home_view = sandbox.wait_for(lambda: sandbox.home("U1"))
            assert home_view is not None and home_view["type"] == "home"
            assert client.slash_command("/kudos", "hi", "U1", signature="v0=bad").status == 401
            stale = client.slash_command("/kudos", "hi", "U1", timestamp=int(time.time()) - 600)
            assert stale.status == 401
            assert client.url_verification("xyz").json == {"challenge": "xyz"}
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
