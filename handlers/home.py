"""App Home: owners see the programme dashboard (with snapshot and export buttons), everyone
else their own view."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.services import Services
from bot.services import kudos as kudos_service
from bot.services import network as network_service
from bot.ui import OWNER_EXPORT, OWNER_SNAPSHOT, owner_home, personal_home
from handlers.errors import guarded
from handlers.followups import Followups
from handlers.tenant import bound


def register(app: App, services: Services, followups: Followups | None = None
             ) -> None:
    guard = guarded(services.client)

    def publish(svc: Services, client: WebClient, user: str) -> None:
        history = svc.call(kudos_service.my_kudos, user)
        if svc.is_owner(user):
            view = owner_home(svc.call(network_service.dashboard), history)
        else:
            view = personal_home(history)
        client.views_publish(user_id=user, view=view)

    @app.event("app_home_opened")
    @guard
    def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        publish(bound(services, context), client, str(event["user"]))

    # The buttons act for the person who clicked (Slack signs who that is), whatever the
    # button's value says; owner checks happen in the services.
    @app.action(OWNER_SNAPSHOT)
    @guard
    def snapshot_clicked(ack: Ack, body: dict[str, Any], client: WebClient,
                         context: BoltContext) -> None:
        ack()
        user = body["user"]["id"]
        svc = bound(services, context)
        svc.deliver_now(svc.call(network_service.send_snapshot, user, None).keys)
        publish(svc, client, user)

    @app.action(OWNER_EXPORT)
    @guard
    def export_clicked(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        svc = bound(services, context)
        svc.deliver_now(svc.call(network_service.send_export, body["user"]["id"]).keys)
