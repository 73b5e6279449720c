"""Events API listeners: roster changes as they happen, and reaction kudos."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.services import Services, kudos, roster
from handlers.errors import guarded
from handlers.followups import Followups
from handlers.tenant import bound

log = logging.getLogger(__name__)


def register(app: App, services: Services, followups: Followups | None = None
             ) -> None:
    guard = guarded(services.client, followups)

    # Events are acknowledged at once; their work runs after the ack (`handlers.followups`).
    @guard.after_ack
    def on_member_change(event: dict[str, Any], context: BoltContext) -> None:
        user = event.get("user")
        if isinstance(user, dict) and context.get("peerpulse_tenant"):
            bound(services, context).call(roster.member_changed, user)

    app.event("user_change")(on_member_change)
    app.event("team_join")(on_member_change)

    @app.event("reaction_added")
    @guard.after_ack
    def reaction_added(event: dict[str, Any], context: BoltContext) -> None:
        bound(services, context).call(kudos.on_reaction, event, removed=False)

    @app.event("reaction_removed")
    @guard.after_ack
    def reaction_removed(event: dict[str, Any], context: BoltContext) -> None:
        bound(services, context).call(kudos.on_reaction, event, removed=True)

    @app.event("app_uninstalled")
    @guard
    def app_uninstalled(ack: Ack, context: BoltContext) -> None:
        ack()
        if bound(services, context).uninstall():
            log.info("app uninstalled from %s", context.get("peerpulse_tenant"))

    @app.event("tokens_revoked")
    @guard
    def tokens_revoked(ack: Ack, event: dict[str, Any], context: BoltContext) -> None:
        ack()
        # The bot's token revoked is an uninstall; PeerPulse holds no user tokens.
        if (event.get("tokens") or {}).get("bot") and bound(services, context).uninstall():
            log.info("bot token revoked in %s", context.get("peerpulse_tenant"))


def register_fallback(app: App) -> None:
    """Acknowledge, quietly, any event no listener took; register it after every listener.

    PeerPulse does not subscribe to ``app_mention`` (manifest.yml): answering mentions
    would need ``app_mentions:read``, the text of channel messages, which the bot never
    reads; people find help in App Home and with ``/network help``. An event delivered
    anyway (a subscription added by hand, a new event type) gets 200: Slack would retry a
    404 and count it against the app.
    """

    @app.event(re.compile(".*"))
    def unhandled_event(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        log.debug("event %s ignored: PeerPulse has no listener for it", event.get("type"))
