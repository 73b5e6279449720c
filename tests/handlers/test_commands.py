"""`/network` subcommands are one table: the table matches the documented commands, and a
new entry is served end to end (signed HTTP request in, ephemeral answer out) with no other
edit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers import commands
from handlers.commands import NETWORK, Reply, Request, Subcommand
from tests.handlers.live import Bot, running_bot

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


@pytest.fixture
def bot(tmp_path: object) -> Iterator[Bot]:
    with running_bot(str(tmp_path), (OWNER, "UALEX"), PEERPULSE_OWNERS=OWNER) as live:
        yield live


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
