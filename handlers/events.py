"""Events API listeners: roster changes as they happen, and reaction kudos."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.services import Services, kudos, roster
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    guard = guarded(services.client)

    @guard
    def on_member_change(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        user = event.get("user")
        if isinstance(user, dict) and services.workspace_id:
            services.call(roster.member_changed, user)

    app.event("user_change")(on_member_change)
    app.event("team_join")(on_member_change)

    @app.event("reaction_added")
    @guard
    def reaction_added(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        services.call(kudos.on_reaction, event, removed=False)

    @app.event("reaction_removed")
    @guard
    def reaction_removed(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        services.call(kudos.on_reaction, event, removed=True)
