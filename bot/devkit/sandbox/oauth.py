"""Several workspaces and Enterprise Grid organisations in one sandbox, and Slack's OAuth v2
flow for installing the app into them: the authorize page (which redirects back with a code
and the state), ``oauth.v2.access`` (code → bot token), one bot token per installation, each
seeing only its own workspace (or, for an org-wide install, its organisation's workspaces),
and the ``app_uninstalled`` / ``tokens_revoked`` events that revoke those tokens.

The sandbox's original token (``SlackSandbox.token``) keeps its behaviour: it belongs to the
default workspace and sees every member, as before.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bot.devkit.workspace import BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, base36


@dataclass
class Grant:
    """One bot token: the installation it belongs to and what it may see."""

    token: str
    team_id: str | None  # None for an org-wide install
    enterprise_id: str | None
    bot_user_id: str
    bot_id: str
    installer: str
    scopes: tuple[str, ...]
    revoked: bool = False
    # The workspaces whose members this token sees; None: every member (the default token).
    teams: frozenset[str] | None = None

    @property
    def is_enterprise_install(self) -> bool:
        return self.team_id is None and self.enterprise_id is not None


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    target: str
    installer: str
    scopes: tuple[str, ...]
    used: bool = False


@dataclass
class Tenants:
    """The workspaces, organisations and OAuth grants of the sandbox."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    #: The app's registered redirect URL, used when the authorize request names none.
    redirect_url: str | None = None
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    enterprises: dict[str, str] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_team(self, team_id: str, name: str, *, enterprise_id: str | None = None,
                 enterprise_name: str | None = None, domain: str | None = None) -> None:
        """A workspace, optionally part of an Enterprise Grid organisation."""
        with self.lock:
            if enterprise_id is not None:
                self.enterprises[enterprise_id] = enterprise_name or self.enterprises.get(
                    enterprise_id, enterprise_id)
            self.teams[team_id] = {"id": team_id, "name": name,
                                   "domain": domain or team_id.lower(),
                                   "enterprise_id": enterprise_id}

    def teams_of(self, target: str) -> frozenset[str]:
        """The workspaces a team id or an enterprise id covers."""
        if target in self.enterprises:
            return frozenset(t for t, v in self.teams.items() if v["enterprise_id"] == target)
        return frozenset({target})

    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """The authorize page: ``team`` (a workspace id, or an enterprise id for an org-wide
        install) and optionally ``user`` (the installer) stand for what the person picks.
        Answers (status, headers, body): a redirect to the app with ``code`` and ``state``."""
        with self.lock:
            if params.get("client_id") != self.client_id:
                return 400, {}, "invalid_client_id"
            redirect = params.get("redirect_uri") or self.redirect_url
            if not redirect:
                return 400, {}, "bad_redirect_uri"
            target = params.get("team") or ""
            if target not in self.teams and target not in self.enterprises:
                return 400, {}, "choose a workspace or organisation: add team=T... or E..."
            code = f"code-{next(self._seq)}-{secrets.token_hex(6)}"
            scopes = tuple(s for s in (params.get("scope") or "").split(",") if s)
            self.codes[code] = _Code(self.client_id, redirect, target,
                                     params.get("user") or "UINSTALLER", scopes)
            query = urlencode({"code": code, "state": params.get("state", "")})
            sep = "&" if "?" in redirect else "?"
            return 302, {"Location": f"{redirect}{sep}{query}"}, ""

    def exchange(self, params: dict[str, Any], basic: tuple[str, str] | None
                 ) -> dict[str, Any]:
        """``oauth.v2.access``: the fields of the answer, or ``{"error": ...}``."""
        client_id, secret = basic or (params.get("client_id"), params.get("client_secret"))
        with self.lock:
            if client_id != self.client_id:
                return {"error": "invalid_client_id"}
            if secret != self.client_secret:
                return {"error": "bad_client_secret"}
            code = self.codes.get(str(params.get("code") or ""))
            if code is None or code.used:
                return {"error": "invalid_code"}
            if params.get("redirect_uri") and params["redirect_uri"] != code.redirect_uri:
                return {"error": "bad_redirect_uri"}
            code.used = True
            grant = self._grant_for(code)
        team = None if grant.team_id is None else {
            "id": grant.team_id, "name": self.teams[grant.team_id]["name"]}
        enterprise = None if grant.enterprise_id is None else {
            "id": grant.enterprise_id, "name": self.enterprises[grant.enterprise_id]}
        return {"access_token": grant.token, "token_type": "bot",
                "scope": ",".join(grant.scopes), "bot_user_id": grant.bot_user_id,
                "app_id": "A0SANDBOX", "team": team, "enterprise": enterprise,
                "is_enterprise_install": grant.is_enterprise_install,
                "authed_user": {"id": code.installer}}

    def _grant_for(self, code: _Code) -> Grant:
        org_wide = code.target in self.enterprises
        for grant in self.grants.values():  # a reinstall keeps a live token
            if not grant.revoked and (grant.enterprise_id if org_wide else grant.team_id
                                      ) == code.target and grant.is_enterprise_install == org_wide:
                grant.scopes = code.scopes
                return grant
        n = next(self._seq)
        enterprise = code.target if org_wide else self.teams[code.target]["enterprise_id"]
        token = f"xoxb-{code.target}-{n}-{secrets.token_hex(8)}"
        grant = Grant(token=token, team_id=None if org_wide else code.target,
                      enterprise_id=enterprise, bot_user_id=f"UBOT{base36(n)}",
                      bot_id=f"BBOT{base36(n)}", installer=code.installer, scopes=code.scopes,
                      teams=self.teams_of(code.target))
        self.grants[token] = grant
        return grant

    def revoke(self, target: str) -> list[Grant]:
        """Revoke every live token of the installation in ``target`` (a team or enterprise)."""
        with self.lock:
            gone = [g for g in self.grants.values() if not g.revoked and target in (
                g.team_id if g.team_id is not None else g.enterprise_id, )]
            for grant in gone:
                grant.revoked = True
            return gone

    def auth_test(self, grant: Grant | None, default_team: str) -> dict[str, Any]:
        """``auth.test`` for the token's installation."""
        if grant is None:
            return {"url": f"https://{TEAM_DOMAIN}.slack.com/", "team": "PeerPulse Sandbox",
                    "user": "peerpulse", "team_id": default_team, "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID, "is_enterprise_install": False}
        if grant.is_enterprise_install:
            assert grant.enterprise_id is not None
            # (approximation) an org token reports the organisation as its team.
            return {"url": f"https://{grant.enterprise_id.lower()}.enterprise.slack.com/",
                    "team": self.enterprises[grant.enterprise_id],
                    "team_id": grant.enterprise_id, "enterprise_id": grant.enterprise_id,
                    "user": "peerpulse", "user_id": grant.bot_user_id, "bot_id": grant.bot_id,
                    "is_enterprise_install": True}
        assert grant.team_id is not None
        team = self.teams[grant.team_id]
        answer = {"url": f"https://{team['domain']}.slack.com/", "team": team["name"],
                  "team_id": grant.team_id, "user": "peerpulse", "user_id": grant.bot_user_id,
                  "bot_id": grant.bot_id, "is_enterprise_install": False}
        if team["enterprise_id"]:
            answer["enterprise_id"] = team["enterprise_id"]
        return answer


def default_tenants() -> Tenants:
    tenants = Tenants()
    tenants.add_team(TEAM_ID, "PeerPulse Sandbox", domain=TEAM_DOMAIN)
    return tenants
