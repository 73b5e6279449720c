"""App Home: each person's own view."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.services import Services
from bot.services import kudos as kudos_service
from bot.ui import personal_home
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    guard = guarded(services.client)

    @app.event("app_home_opened")
    @guard
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        history = kudos_service.my_kudos(services, user)
        client.views_publish(user_id=user, view=personal_home(history))
