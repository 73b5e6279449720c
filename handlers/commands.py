"""Slash commands: `/kudos`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.rendering import render
from bot.services import Services
from bot.services import kudos as kudos_service
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    guard = guarded(services.client)

    def kudos_help(respond: Respond) -> None:
        prefs = kudos_service.programme_settings(services)
        respond(response_type="ephemeral", text=render(
            "kudos_help.j2", values=prefs.kudos_values, reason_max=prefs.kudos_reason_max,
            daily_cap=prefs.kudos_daily_cap, max_recipients=kudos_service.MAX_RECIPIENTS))

    @app.command("/kudos")
    @guard
    def kudos(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        text = str(command.get("text") or "")
        if text.strip().lower() in ("", "help", "?"):
            kudos_help(respond)
            return
        try:
            outcome, said, prefs = kudos_service.kudos_from_command(
                services, giver=command["user_id"], text=text,
                request_key=str(command.get("trigger_id") or command.get("response_url")))
        except kudos_service.NeedsHelp:
            kudos_help(respond)
            return
        respond(response_type="ephemeral", text=render(
            "kudos_confirm.j2", duplicate=outcome.duplicate, stored=outcome.stored,
            already=outcome.already, reason=outcome.reason, value=outcome.value,
            channel=prefs.kudos_channel if said.channel_ts else None, failed=said.failed))
