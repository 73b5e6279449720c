"""Installs through OAuth (bot/install.py): the settings that choose the mode, the tenant of a
request, the stores on the migrated schema, and uninstalling. The whole flow over HTTP is in
tests/e2e/test_multi_workspace.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot import db
from bot.app import build_services
from bot.config import ConfigError, load_settings
from bot.install import BOT_SCOPES, Tenant
from bot.models import Workspace

ROOT = Path(__file__).resolve().parents[2]
OAUTH = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "s3cret"}


def test_the_install_asks_for_exactly_the_manifest_bot_scopes() -> None:
    manifest: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    redirects = manifest["oauth_config"]["redirect_urls"]
    assert redirects and all(u.endswith("/slack/oauth_redirect") for u in redirects)


def test_client_id_and_secret_choose_oauth_mode_and_the_authorize_page() -> None:
    single = load_settings(None, SLACK_BOT_TOKEN="xoxb-1")
    assert not single.oauth
    single.require_slack_access()
    oauth = load_settings(None, **OAUTH)
    assert oauth.oauth
    oauth.require_slack_access()  # no SLACK_BOT_TOKEN needed
    assert oauth.slack_authorize_url == "https://slack.com/oauth/v2/authorize"
    local = load_settings(None, SLACK_API_URL="http://127.0.0.1:5000/api/", **OAUTH)
    assert local.slack_authorize_url == "http://127.0.0.1:5000/oauth/v2/authorize"


@pytest.mark.parametrize(("env", "words"), [
    ({}, "SLACK_BOT_TOKEN is not set"),
    ({"SLACK_CLIENT_ID": "111.222"}, "SLACK_CLIENT_SECRET is not set"),
    ({"SLACK_CLIENT_SECRET": "s3cret"}, "SLACK_CLIENT_ID is not set"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", **OAUTH}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both"),
])
def test_half_set_or_doubly_set_credentials_are_refused_in_one_line(
        env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(None, **env).require_slack_access()


def test_run_in_oauth_mode_refuses_socket_mode_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, text=True, capture_output=True,
        timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                         "SLACK_APP_TOKEN": "xapp-1", **OAUTH})
    assert done.returncode == 1 and "need HTTP mode" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("enterprise", "team", "org_wide", "key", "store_ids"), [
    (None, "T1", False, "T1", (None, "T1")),
    ("E1", "T1", False, "T1", ("E1", "T1")),  # a Grid workspace installed on its own
    ("E1", "T1", True, "E1", ("E1", None)),  # org-wide: the organisation is the tenant
])
def test_the_tenant_of_a_request(enterprise: str | None, team: str, org_wide: bool, key: str,
                                 store_ids: tuple[str | None, str | None]) -> None:
    tenant = Tenant.of(enterprise, team, org_wide)
    assert (tenant.key, tenant.is_enterprise_install, tenant.store_ids()) == (
        key, org_wide, store_ids)


def test_the_stores_work_on_the_migrated_schema_and_uninstall_forgets_the_token(
        database_url: str) -> None:
    settings = load_settings(None, DATABASE_URL=database_url, **OAUTH)
    services = build_services(settings)
    installs = services.installs
    assert installs is not None
    installed: list[int] = []
    installs.store.on_installed = installed.append
    installs.store.save(Installation(
        app_id="A1", enterprise_id="E1", enterprise_name="Grid", team_id=None,
        bot_token="xoxb-org", bot_id="B1", bot_user_id="UB1", bot_scopes=list(BOT_SCOPES),
        user_id="U1", is_enterprise_install=True, installed_at=datetime.now(UTC).timestamp()))
    state = installs.state_store.issue()
    assert installs.state_store.consume(state) and not installs.state_store.consume(state)
    with services.sessions() as session:
        ws = session.get(Workspace, installed[0])
        assert ws is not None
        assert (ws.slack_team_id, ws.name, ws.is_enterprise_install, ws.active) == (
            "E1", "Grid", True, True)
        client = installs.client_for(ws)
    assert client is not None and client.token == "xoxb-org"
    sender = installs.sender_client(installed[0])
    assert sender is not None and sender.token == "xoxb-org" and not sender.retry_handlers
    assert [t.workspace_id for t in services.tenants()] == installed
    assert installs.uninstall(installed[0])
    assert installs.bot_token(Tenant.of("E1", None, True)) is None
    assert installs.sender_client(installed[0]) is None
    assert services.tenants() == []  # no job runs for it
    assert [t.workspace_id for t in services.tenants(inactive=True)] == installed
    with services.sessions() as session:
        ws = session.get(Workspace, installed[0])
        assert ws is not None and not ws.active and ws.uninstalled_at is not None
    # A reinstall reactivates the same tenant.
    installs.store.save(Installation(
        app_id="A1", enterprise_id="E1", team_id=None, bot_token="xoxb-org-2", bot_id="B1",
        bot_user_id="UB1", user_id="U1", is_enterprise_install=True))
    assert installed == [installed[0], installed[0]]
    assert [t.client.token for t in services.tenants()] == ["xoxb-org-2"]
    services.sessions.kw["bind"].dispose()


def test_single_token_mode_has_no_installs_and_one_tenant(database_url: str) -> None:
    settings = load_settings(None, DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-1")
    services = build_services(settings)
    assert services.installs is None and services.tenants() == []  # not identified yet
    with db.transaction(services.sessions) as session:
        ws = Workspace(slack_team_id="T1", name="One")
        session.add(ws)
        session.flush()
        services.workspace_id, services.team_id = ws.id, "T1"
    assert services.tenants() == [services]
    assert services.uninstall() and services.tenants() == []
    services.sessions.kw["bind"].dispose()
