"""`/network` subcommands are one table: the table matches the documented commands, and a
new entry is served end to end (signed HTTP request in, ephemeral answer out) with no other
edit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from bot.app import build_services, create_app, identify_workspace
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.signed_client import SignedClient
from bot.server import make_wsgi
from handlers import commands
from handlers.commands import NETWORK, Reply, Request, Subcommand

SECRET = "test-secret"
OWNER = "UOWNER"

# The `/network` subcommands of design.md, and which of them are for programme owners.
DOCUMENTED = {"help", "snapshot", "champions", "compare", "person", "champion", "settings",
              "optout", "optin", "mydata", "forgetme"}
OWNER_ONLY = {"snapshot", "champions", "compare", "person", "champion", "settings"}


def test_the_table_holds_exactly_the_documented_subcommands() -> None:
    assert set(NETWORK) - {"?"} == DOCUMENTED
    assert {name for name, sub in NETWORK.items() if sub.owner_only} == OWNER_ONLY
    for name, sub in NETWORK.items():
        assert sub.name == name or name == "?"
        assert not (sub.working and sub.before_ack), f"{name}: slow and before the ack"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Bot:
    slack: SignedClient
    sandbox: SlackSandbox


@pytest.fixture
def bot(tmp_path: object) -> Iterator[Bot]:
    with SlackSandbox() as sandbox:
        sandbox.add_users([{"id": u, "name": u.lower(), "deleted": False, "is_bot": False}
                           for u in (OWNER, "UALEX")])
        settings = load_settings(None, SLACK_BOT_TOKEN=sandbox.token,
                                 SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=sandbox.base_url,
                                 DATABASE_URL=f"sqlite:///{tmp_path}/bot.db",
                                 PEERPULSE_OWNERS=OWNER)
        services = build_services(settings)
        identify_workspace(services)
        app = create_app(settings, services)
        server = make_server("127.0.0.1", 0, make_wsgi(app, signing_secret=SECRET),
                             server_class=_Server, handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}"
            yield Bot(SignedClient(url, SECRET, sandbox.team_id, response_urls=sandbox),
                      sandbox)
        finally:
            server.shutdown()
            services.sessions.kw["bind"].dispose()


def _answers(bot: Bot, text: str, user: str, n: int = 1) -> tuple[str, list[str]]:
    resp = bot.slack.slash_command("/network", text, user)
    assert resp.status == 200
    ack = str((resp.json or {}).get("text", "")) if resp.body else ""
    key = resp.response_key
    assert key is not None
    got = bot.sandbox.wait_for(lambda: len(bot.sandbox.responses(key)) >= n and
                               bot.sandbox.responses(key), timeout=20)
    return ack, [str(r.get("text")) for r in got]


def test_a_new_entry_is_one_line_in_the_table(bot: Bot, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    def ping(req: Request) -> Reply:
        return Reply(f"pong {len(req.args)} for <@{req.user}>")

    monkeypatch.setitem(commands.NETWORK, "ping", Subcommand("ping", ping))
    monkeypatch.setitem(commands.NETWORK, "slowping",
                        Subcommand("slowping", ping, owner_only=True, working="the ping"))
    _, said = _answers(bot, "ping a b", "UALEX")
    assert said == ["pong 2 for <@UALEX>"]
    ack, said = _answers(bot, "slowping", OWNER)
    assert "the ping" in ack and said == [f"pong 0 for <@{OWNER}>"]
    resp = bot.slack.slash_command("/network", "slowping", "UALEX")
    assert "only programme owners" in str((resp.json or {}).get("text", "")).lower()


def test_unknown_subcommands_get_the_help(bot: Bot) -> None:
    _, said = _answers(bot, "frobnicate", "UALEX", n=2)
    assert "don't know `/network frobnicate`" in said[0] and "/network" in said[1]
