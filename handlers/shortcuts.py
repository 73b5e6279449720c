"""Shortcuts: "Give kudos" (global) and "Kudos for this" (on a message) open the kudos form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.services import Services
from bot.services import settings as programme
from bot.ui import kudos_modal
from handlers.errors import guarded
from handlers.followups import Followups
from handlers.tenant import bound


def register(app: App, services: Services, followups: Followups | None = None
             ) -> None:
    guard = guarded(services.client)

    @app.shortcut("give_kudos")
    @guard
    def give_kudos(ack: Ack, shortcut: dict[str, Any], client: WebClient,
                   context: BoltContext) -> None:
        ack()
        prefs = bound(services, context).call(programme.current)
        client.views_open(trigger_id=shortcut["trigger_id"], view=kudos_modal(prefs))

    @app.shortcut("kudos_for_message")
    @guard
    def kudos_for_message(ack: Ack, shortcut: dict[str, Any], client: WebClient,
                          context: BoltContext) -> None:
        ack()
        prefs = bound(services, context).call(programme.current)
        message = shortcut.get("message") or {}
        author = message.get("user")
        initial = [author] if author and not message.get("bot_id") else []
        client.views_open(trigger_id=shortcut["trigger_id"], view=kudos_modal(
            prefs, initial_users=initial, channel=(shortcut.get("channel") or {}).get("id"),
            message_ts=message.get("ts")))
