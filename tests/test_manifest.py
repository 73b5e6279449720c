"""manifest.yml: valid against Slack's manifest schema and declaring exactly what the bot uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "manifest.yml"
SHARED = REPO.parent / "shared"
SCHEMA = SHARED / "slack" / "manifest.schema.1.0.0.json"

# What the bot listens to and calls. A listener or API call that needs something new
# must change manifest.yml and these sets together.
COMMANDS = {"/kudos", "/network"}
SHORTCUTS = {("global", "give_kudos"), ("message", "kudos_for_message")}
BOT_EVENTS = {"app_home_opened", "reaction_added", "reaction_removed", "user_change", "team_join"}
BOT_SCOPES = {
    "commands",
    "chat:write",
    "im:write",
    "im:history",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "files:write",
    "reactions:read",
}
EVENTS_PATH = "/slack/events"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must hold a mapping"
    return data


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack manifest schema not found at {SCHEMA} (shared/ is not beside the repo)")
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def test_manifest_is_valid_against_slack_schema(
    manifest: dict[str, Any], schema: dict[str, Any]
) -> None:
    Draft7Validator.check_schema(schema)
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def test_background_color_is_a_hex_colour(manifest: dict[str, Any]) -> None:
    # The schema spells this constraint "regex", which JSON Schema ignores, so check it here.
    colour = manifest["display_information"]["background_color"]
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", colour)


def test_declares_exactly_the_slash_commands_the_bot_handles(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert {c["command"] for c in commands} == COMMANDS
    assert len(commands) == len(COMMANDS)


def test_every_slash_command_escapes_mentions(manifest: dict[str, Any]) -> None:
    # Without should_escape, mentions arrive as display names the parser cannot resolve.
    for command in manifest["features"]["slash_commands"]:
        assert command.get("should_escape") is True, command["command"]


def test_network_usage_hint_lists_every_subcommand(manifest: dict[str, Any]) -> None:
    hint = next(
        c["usage_hint"]
        for c in manifest["features"]["slash_commands"]
        if c["command"] == "/network"
    )
    for sub in (
        "help",
        "snapshot",
        "champions",
        "compare",
        "person",
        "champion add|remove",
        "settings",
        "optout",
        "optin",
        "mydata",
        "forgetme",
    ):
        assert sub in hint, sub


def test_declares_exactly_the_shortcuts_the_bot_handles(manifest: dict[str, Any]) -> None:
    shortcuts = manifest["features"]["shortcuts"]
    assert {(s["type"], s["callback_id"]) for s in shortcuts} == SHORTCUTS
    assert len(shortcuts) == len(SHORTCUTS)


def test_app_home_has_home_and_messages_tabs(manifest: dict[str, Any]) -> None:
    app_home = manifest["features"]["app_home"]
    assert app_home["home_tab_enabled"] is True
    assert app_home["messages_tab_enabled"] is True  # poll DMs are answered there


def test_subscribes_to_exactly_the_events_the_bot_handles(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) == BOT_EVENTS
    assert not events.get("user_events"), "the bot acts for no user: no user events"


def test_requests_exactly_the_bot_scopes_it_needs(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    assert sorted(scopes["bot"]) == sorted(BOT_SCOPES)
    assert not scopes.get("user"), "the bot acts for no user: no user scopes"


def test_every_bot_scope_is_justified_in_a_comment() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    for scope in BOT_SCOPES:
        line = re.search(rf"^\s*-\s*{re.escape(scope)}\s*(#.*)?$", text, re.MULTILINE)
        assert line, f"scope {scope} not found as a list item"
        assert line.group(1) and len(line.group(1)) > 5, f"scope {scope} has no reason given"


def test_every_request_url_is_the_events_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"] if "url" in c),
    ]
    assert len(urls) == 2 + len(COMMANDS)
    for url in urls:
        assert url.startswith("https://") and url.endswith(EVENTS_PATH), url


def test_http_mode_settings(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False  # README: flip it for Socket Mode
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
