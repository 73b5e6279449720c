"""Events the bot has no listener for, `app_mention` first among them: PeerPulse does not
subscribe to mentions (manifest.yml; no app_mentions:read, so it never reads messages in
channels), and an event delivered anyway is acknowledged with 200 quietly, so Slack neither
retries it nor counts it as a failure, and nothing is posted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.bot.test_server import ALEX, Bot, _running_bot

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    with _running_bot(tmp_path, behind_edge=True) as running:
        yield running


def test_the_manifest_neither_subscribes_to_mentions_nor_asks_to_read_them() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert "app_mention" not in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "app_mentions:read" not in manifest["oauth_config"]["scopes"]["bot"]


@pytest.mark.parametrize("event", [
    {"type": "app_mention", "user": ALEX, "text": "<@U0BOTSELF> help", "channel": "C0GENERAL",
     "ts": "1700000000.000100"},
    {"type": "member_joined_channel", "user": ALEX, "channel": "C0GENERAL"},
    {"type": "message", "user": ALEX, "text": "hello", "channel": "D0HOME", "channel_type": "im"},
], ids=lambda e: e["type"])
def test_an_event_without_a_listener_gets_200_quietly(bot: Bot, event: dict[str, str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    answer = bot.slack.event(event)
    assert answer.status == 200, answer.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert bot.side_effects() == []


def test_events_with_listeners_still_reach_them(bot: Bot) -> None:
    """The fallback comes last: App Home is still published."""
    assert bot.slack.app_home_opened(ALEX).status == 200
    assert bot.sandbox.wait_for(lambda: bot.sandbox.home(ALEX), timeout=10)
