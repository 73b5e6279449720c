"""Which tenant a request is served for: `bot.app`'s middleware puts the tenant's id in
Bolt's context (never in a thread-local: Bolt runs listeners, lazy ones included, in other
threads), and each listener binds the services to it and to the request's Slack client."""

from __future__ import annotations

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.errors import PeerPulseError
from bot.services import Services


class NotInstalled(PeerPulseError):
    """A request from a workspace the bot has no installation for."""


def bound(services: Services, context: BoltContext, client: WebClient | None = None
          ) -> Services:
    """``services`` serving the request's tenant, with its Slack client (installs through
    OAuth: the installation's bot token; one bot token: as it is)."""
    found = context.get("peerpulse_tenant")
    if not found or not found[0]:
        raise NotInstalled("PeerPulse is not installed in this workspace yet: ask an admin "
                           "to install it (or start the bot once so it learns its workspace)")
    workspace_id, key = found
    if services.installs is None:
        return services if services.workspace_id == workspace_id else services.bound(
            workspace_id, key)
    return services.bound(workspace_id, key, client or context.client)
