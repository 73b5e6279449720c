"""Composition root: the one place that builds the wiring (`build_services`: database,
Slack client, delivery) and the Bolt app (`create_app`). `bot.runtime` adds the background
work; the CLI and the demo reuse `build_services`."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

import handlers
from bot import db
from bot.config import Settings
from bot.services import Services, events, system_clock
from bot.services.delivery import Delivery
from bot.services.workspace import ensure_workspace
from handlers.errors import tell_user

log = logging.getLogger(__name__)

def make_web_client(settings: Settings) -> WebClient:
    """A WebClient on ``SLACK_API_URL`` that retries 429 (Retry-After), 5xx and lost connections."""
    retries = settings.slack_max_retries
    handlers_: list[RetryHandler] = [
        RateLimitErrorRetryHandler(max_retry_count=retries),
        ServerErrorRetryHandler(max_retry_count=retries),
        ConnectionErrorRetryHandler(max_retry_count=retries),
    ]
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=handlers_,
        timeout=30,
    )


def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Open the database (applying migrations), make the Slack client and the delivery.

    Used by `peerpulse run`, every CLI command that touches the database, and the demo.
    """
    if migrate:
        db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    sessions = db.make_session_factory(engine)
    return Services(
        settings=settings,
        sessions=sessions,
        client=make_web_client(settings),
        clock=system_clock,
        delivery=Delivery(sessions, settings, system_clock),
    )


def identify_workspace(services: Services) -> None:
    """Ask Slack who we are (`auth.test`) and record the workspace."""
    auth = services.client.auth_test()
    team_id = str(auth.get("team_id") or "")
    with db.transaction(services.sessions) as session:
        ws = ensure_workspace(session, team_id, str(auth.get("team") or ""))
        services.team_id, services.workspace_id = team_id, ws.id
    log.info("serving workspace %s (%s)", auth.get("team"), team_id)


def create_app(settings: Settings, services: Services | None = None) -> App:
    """Build the Bolt app: request verification, event de-duplication, listeners, error handler."""
    services = services or build_services(settings)
    app = App(
        name="peerpulse",
        client=services.client,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.socket_mode,
        token_verification_enabled=False,
        process_before_response=False,
        logger=logging.getLogger("peerpulse.bolt"),
    )

    @app.middleware
    def drop_duplicate_events(body: dict[str, Any], next: Any) -> BoltResponse | None:
        # Slack redelivers events (and sometimes duplicates them): handle each event_id once.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not services.call(events.record_delivery, str(event_id)):
            log.info("duplicate event %s ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()  # type: ignore[no-any-return]

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
        # Failures outside listeners (listeners are wrapped by handlers.errors.guarded).
        tell_user(error, body, respond, services.client)

    handlers.register(app, services)
    return app
