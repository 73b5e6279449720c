"""App Home: owners see the programme dashboard (with snapshot and export buttons), everyone
else their own view."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.services import Services
from bot.services import kudos as kudos_service
from bot.services import network as network_service
from bot.ui import OWNER_EXPORT, OWNER_SNAPSHOT, owner_home, personal_home
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    guard = guarded(services.client)

    def publish(client: WebClient, user: str) -> None:
        history = services.call(kudos_service.my_kudos, user)
        if services.is_owner(user):
            view = owner_home(services.call(network_service.dashboard), history)
        else:
            view = personal_home(history)
        client.views_publish(user_id=user, view=view)

    @app.event("app_home_opened")
    @guard
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        publish(client, str(event["user"]))

    # The buttons act for the person who clicked (Slack signs who that is), whatever the
    # button's value says; owner checks happen in the services.
    @app.action(OWNER_SNAPSHOT)
    @guard
    def snapshot_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        services.deliver_now(services.call(network_service.send_snapshot, user, None).keys)
        publish(client, user)

    @app.action(OWNER_EXPORT)
    @guard
    def export_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        services.deliver_now(services.call(network_service.send_export, body["user"]["id"]).keys)
