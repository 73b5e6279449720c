"""Composition root: builds settings-driven services, the Bolt app and background jobs."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.kwargs_injection.args import Args
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
from bot.errors import PeerPulseError
from bot.services import Services, system_clock
from bot.services.events import first_delivery

log = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "Sorry, PeerPulse hit a problem on its side and could not finish that. "
    "Nothing was counted twice; please try again in a minute."
)


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
    """Open the database (applying migrations) and make the Slack client."""
    if migrate:
        db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    return Services(
        settings=settings,
        sessions=db.make_session_factory(engine),
        client=make_web_client(settings),
        clock=system_clock,
    )


def _user_message(error: Exception) -> str:
    return str(error) if isinstance(error, PeerPulseError) else GENERIC_FAILURE


def create_app(settings: Settings, services: Services | None = None) -> App:
    """Build the Bolt app: request verification, event de-duplication, listeners, error handler."""
    services = services or build_services(settings)
    app = App(
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
        if event_id:
            with db.transaction(services.sessions) as session:
                if not first_delivery(session, str(event_id)):
                    log.info("duplicate event %s ignored", event_id)
                    return BoltResponse(status=200, body="")
        return next()  # type: ignore[no-any-return]

    @app.error
    def on_error(error: Exception, body: dict[str, Any], args: Args) -> BoltResponse | None:
        # The one place an unexpected failure turns into a friendly message; never a traceback.
        if isinstance(error, PeerPulseError):
            log.info("refused: %s", error)
        else:
            log.exception("unhandled error", exc_info=error)
        text = _user_message(error)
        try:
            if body.get("response_url") and args.respond is not None:
                args.respond(text=text, response_type="ephemeral", replace_original=False)
                return None
            user = (body.get("user") or {}).get("id") or body.get("user_id")
            channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
            if user and channel:
                services.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except Exception:  # pragma: no cover - Slack itself failing while we apologise
            log.exception("could not tell the user about an error")
        return None

    handlers.register(app, services)
    return app
