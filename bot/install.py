"""Installs through Slack's OAuth flow, an alternative to one ``SLACK_BOT_TOKEN``: slack_sdk's
SQLAlchemy installation and state stores (tables from migration 0007), Bolt's OAuth settings
(`/slack/install`, `/slack/oauth_redirect`), which tenant a request belongs to, each tenant's
Slack client, and uninstalling.

A tenant is one `Workspace` row: the workspace for an ordinary install, the organisation
for an Enterprise Grid org-wide install (its workspaces then make one network). Every query
is scoped by the tenant's id; each request, job and outgoing message is served with the
tenant's own bot token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.config import Settings
from bot.models import Workspace
from bot.services.outbox import make_sender_client
from bot.services.workspace import deactivate, ensure_tenant

log = logging.getLogger(__name__)

#: The bot scopes an install asks for: manifest.yml's oauth_config.scopes.bot
#: (tests/bot/test_install.py keeps the two equal).
BOT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "users:read",
              "users:read.email", "usergroups:read", "files:write", "reactions:read")
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600


@dataclass(frozen=True)
class Tenant:
    """Who a request or an installation belongs to."""

    key: str  # the enterprise id for an org-wide install, else the team id
    name: str
    enterprise_id: str | None
    is_enterprise_install: bool

    @classmethod
    def of(cls, enterprise_id: str | None, team_id: str | None,
           is_enterprise_install: bool | None, name: str = "") -> Tenant:
        org_wide = bool(is_enterprise_install) and enterprise_id is not None
        key = enterprise_id if org_wide else team_id
        if not key:
            raise ValueError("a request with neither a team nor an org-wide enterprise")
        return cls(str(key), name, enterprise_id, org_wide)

    def store_ids(self) -> tuple[str | None, str | None]:
        """(enterprise_id, team_id) as the installation store looks them up."""
        return (self.enterprise_id, None if self.is_enterprise_install else self.key)


def tenant_of_row(ws: Workspace) -> Tenant:
    return Tenant(ws.slack_team_id, ws.name, ws.enterprise_id, ws.is_enterprise_install)


class TenantInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's store, which also records (or reactivates) the tenant on each install and
    tells the running bot (``on_installed``) so it syncs the new tenant's roster."""

    def __init__(self, client_id: str, engine: Engine, sessions: sessionmaker[Session]
                 ) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.sessions = sessions
        self.on_installed: Callable[[int], None] | None = None

    def save(self, installation: Installation) -> None:
        super().save(installation)
        tenant = Tenant.of(installation.enterprise_id, installation.team_id,
                           installation.is_enterprise_install,
                           (installation.enterprise_name if installation.is_enterprise_install
                            else installation.team_name) or "")
        with db.transaction(self.sessions) as session:
            ws = ensure_tenant(session, tenant.key, tenant.name,
                               enterprise_id=tenant.enterprise_id,
                               org_wide=tenant.is_enterprise_install, reactivate=True)
            workspace_id = ws.id
        log.info("installed in %s (%s)%s", tenant.name, tenant.key,
                 ", org-wide" if tenant.is_enterprise_install else "")
        if self.on_installed is not None:
            self.on_installed(workspace_id)


class Installs:
    """The stores, the Bolt OAuth settings and the per-tenant Slack clients of one process."""

    def __init__(self, settings: Settings, engine: Engine, sessions: sessionmaker[Session],
                 make_client: Callable[[str | None], WebClient]) -> None:
        assert settings.slack_client_id and settings.slack_client_secret
        self.settings, self.sessions, self.make_client = settings, sessions, make_client
        self.store = TenantInstallationStore(settings.slack_client_id, engine, sessions)
        self.state_store = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS,
                                                     engine=engine)
        self._lock = threading.Lock()
        self._tenant_ids: dict[str, int] = {}
        self._clients: dict[str, WebClient] = {}
        self._senders: dict[str, WebClient] = {}

    def oauth_settings(self) -> OAuthSettings:
        return OAuthSettings(
            client_id=self.settings.slack_client_id,
            client_secret=self.settings.slack_client_secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=self.settings.slack_redirect_uri,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=self.settings.slack_authorize_url,
            installation_store=self.store,
            installation_store_bot_only=True,
            state_store=self.state_store,
            state_expiration_seconds=STATE_SECONDS,
        )

    def authorize(self, client: WebClient) -> InstallationStoreAuthorize:
        """Bolt's look-up of a request's bot token, remembering what `auth.test` said of
        each token (an uninstalled tenant's token is gone from the store, so it stops)."""
        return InstallationStoreAuthorize(
            installation_store=self.store, client_id=self.settings.slack_client_id,
            client_secret=self.settings.slack_client_secret, bot_only=True, client=client,
            cache_enabled=True, logger=logging.getLogger("peerpulse.bolt"))

    def tenant_id(self, tenant: Tenant) -> int:
        """The tenant's `Workspace` id, creating the row on first sight (a request from an
        installation made before this row existed, e.g. by another replica)."""
        with self._lock:
            known = self._tenant_ids.get(tenant.key)
        if known is not None:
            return known
        with db.transaction(self.sessions) as session:
            ws = ensure_tenant(session, tenant.key, tenant.name,
                               enterprise_id=tenant.enterprise_id,
                               org_wide=tenant.is_enterprise_install)
            workspace_id = ws.id
        with self._lock:
            self._tenant_ids[tenant.key] = workspace_id
        return workspace_id

    def bot_token(self, tenant: Tenant) -> str | None:
        enterprise_id, team_id = tenant.store_ids()
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id,
                                  is_enterprise_install=tenant.is_enterprise_install)
        return None if bot is None else bot.bot_token

    def client_for(self, ws: Workspace) -> WebClient | None:
        """The Slack client of an active tenant (its installation's bot token), or None when
        it is uninstalled or has no token."""
        if not ws.active:
            return None
        token = self.bot_token(tenant_of_row(ws))
        if token is None:
            return None
        with self._lock:
            client = self._clients.get(token)
            if client is None:
                client = self._clients[token] = self.make_client(token)
            return client

    def sender_client(self, workspace_id: int) -> WebClient | None:
        """The outbox's client for a tenant (its token, no retry handlers: the sender
        retries itself), or None when the tenant is uninstalled or has no token."""
        with self.sessions() as session:
            ws = session.get(Workspace, workspace_id)
            if ws is None or not ws.active:
                return None
            tenant = tenant_of_row(ws)
        token = self.bot_token(tenant)
        if token is None:
            return None
        with self._lock:
            client = self._senders.get(token)
            if client is None:
                client = self._senders[token] = make_sender_client(
                    token, self.settings.slack_api_url)
            return client

    def uninstall(self, workspace_id: int, *, now: datetime | None = None) -> bool:
        """Forget the tenant's tokens and mark it inactive (its data is kept under the
        retention rules; a reinstall reactivates it). True when it was active."""
        with self.sessions() as session:
            ws = session.get(Workspace, workspace_id)
            if ws is None:
                return False
            tenant = tenant_of_row(ws)
        enterprise_id, team_id = tenant.store_ids()
        self.store.delete_installation(enterprise_id=enterprise_id, team_id=team_id)
        self.store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        return deactivate(self.sessions, workspace_id, now=now)
