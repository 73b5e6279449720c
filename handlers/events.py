"""Events API listeners: roster changes as they happen, and reaction kudos."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.services import Services
from bot.services.kudos import on_reaction
from bot.services.roster import member_changed
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    guard = guarded(services.client)

    @guard
    def on_member_change(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        user = event.get("user")
        if isinstance(user, dict) and services.workspace_id:
            member_changed(services.sessions, services.workspace_id, user)

    app.event("user_change")(on_member_change)
    app.event("team_join")(on_member_change)

    @app.event("reaction_added")
    @guard
    def reaction_added(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        on_reaction(services, event, removed=False)

    @app.event("reaction_removed")
    @guard
    def reaction_removed(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        on_reaction(services, event, removed=True)
