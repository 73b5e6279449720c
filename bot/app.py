"""Composition root: the one place that builds the wiring (`build_services`: database,
Slack client, delivery) and the Bolt app (`create_app`). `bot.runtime` adds the background
work; the CLI and the demo reuse `build_services`."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

import handlers
from bot import db
from bot.config import ConfigError, Settings
from bot.server import signed_by_slack
from bot.services import Services, events, roster, system_clock
from bot.services.delivery import Delivery
from bot.services.workspace import ensure_tenant
from handlers.errors import tell_user

log = logging.getLogger(__name__)

# Threads that run Bolt's listeners in each process (see create_app): more than 16 gave
# no faster acks, only more contention for the GIL.
LISTENER_THREADS = 16

# What auth.test answers for a token that is wrong, revoked or of a removed app.
TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                           "token_expired", "not_allowed_token_type", "ekm_access_denied"})


def make_web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A WebClient on ``SLACK_API_URL`` that retries 429 (Retry-After), 5xx and lost
    connections, with ``token`` (default: SLACK_BOT_TOKEN)."""
    retries = settings.slack_max_retries
    handlers_: list[RetryHandler] = [
        RateLimitErrorRetryHandler(max_retry_count=retries),
        ServerErrorRetryHandler(max_retry_count=retries),
        ConnectionErrorRetryHandler(max_retry_count=retries),
    ]
    return WebClient(
        token=token or settings.slack_bot_token,
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
    installs = None
    if settings.oauth:  # each tenant installs through /slack/install, with its own token
        from bot.install import Installs

        installs = Installs(settings, engine, sessions,
                            lambda token: make_web_client(settings, token))
    return Services(
        settings=settings,
        sessions=sessions,
        client=make_web_client(settings),
        clock=system_clock,
        delivery=Delivery(sessions, settings, system_clock,
                          clients=installs.sender_client if installs else None),
        installs=installs,
    )


class _Dropped(logging.Filter):
    """Drops the log lines that start with ``starts`` (all of them by default)."""

    def __init__(self, starts: str = "") -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.starts)


def identify_workspace(services: Services) -> None:
    """Ask Slack who we are (`auth.test`) and record the workspace (one bot token; with
    installs through OAuth each tenant is recorded when it installs)."""
    if services.installs is not None:
        log.info("serving the workspaces and organisations installed through OAuth")
        return
    # While asking who we are, a failure is reported once, as our ConfigError: drop the
    # Web API client's own line for each attempt.
    quiet = _Dropped()
    slack_log = logging.getLogger("slack_sdk.web.base_client")
    slack_log.addFilter(quiet)
    try:
        auth = services.client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if error in TOKEN_REFUSED:
            raise ConfigError(f"Slack refused the bot token ({error}): check SLACK_BOT_TOKEN"
                              ) from None
        raise ConfigError(f"Slack answered auth.test with {error or exc.response.status_code}"
                          f" (SLACK_API_URL is {services.settings.slack_api_url})") from None
    except OSError as exc:  # URLError, refused or timed-out connections
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ConfigError(f"cannot reach Slack at {services.settings.slack_api_url}: {reason} "
                          "(check SLACK_API_URL and the network)") from None
    finally:
        slack_log.removeFilter(quiet)
    team_id = str(auth.get("team_id") or "")
    with db.transaction(services.sessions) as session:
        # A start with a working token reactivates a workspace that had uninstalled.
        ws = ensure_tenant(session, team_id, str(auth.get("team") or ""), reactivate=True)
        services.team_id, services.workspace_id = team_id, ws.id
    log.info("serving workspace %s (%s)", auth.get("team"), team_id)


def create_app(settings: Settings, services: Services | None = None,
               followups: handlers.Followups | None = None) -> App:
    """Build the Bolt app: request verification, event de-duplication, listeners, error
    handler. ``followups``: where listeners' work after their acks runs
    (`handlers.followups`; None: on Bolt's listener threads)."""
    services = services or build_services(settings)
    installs = services.installs
    # Bolt reads SLACK_BOT_TOKEN itself and warns at every start that the client given
    # (with that same token, or each installation's) takes precedence: it does, by design.
    bolt_log = logging.getLogger("peerpulse.bolt")
    token_skipped = _Dropped("As you gave `client` as well, `token` will be unused")
    bolt_log.addFilter(token_skipped)
    try:
        app = App(
            name="peerpulse",
            client=services.client,
            signing_secret=settings.slack_signing_secret or "",
            # On in every mode: Bolt skips it for Socket Mode requests itself, and HTTP
            # requests are verified even when SLACK_APP_TOKEN is set (`run --http` with an
            # app token).
            request_verification_enabled=True,
            token_verification_enabled=False,
            process_before_response=False,
            # Every listener runs in this pool until it returns, and a request's ack waits
            # for a free thread (the work after acks runs on `handlers.followups`' threads).
            # With Bolt's default of 5, acks queued behind earlier kudos: at 30 kudos/s the
            # ack p99 was 5.1 s; with 16 it was 0.5 s (bench/http_load.py).
            listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS,
                                                 thread_name_prefix="peerpulse-listener"),
            logger=bolt_log,
            # Installs through OAuth: Bolt serves /slack/install and /slack/oauth_redirect
            # and finds each request's bot token in the installation store.
            oauth_settings=installs.oauth_settings() if installs else None,
            authorize=(installs.authorize(services.client)  # type: ignore[arg-type]
                       if installs else None),
        )
    finally:
        bolt_log.removeFilter(token_skipped)
    if installs is not None:
        from bot.install import Tenant

        installs.store.on_installed = lambda workspace_id: _sync_new_tenant(services,
                                                                          workspace_id)

    if followups is not None:
        # First: acks come first, the work after them waits while requests are being
        # answered (`handlers.followups`).
        app.middleware(followups.middleware)

    @app.middleware
    def bind_tenant(context: BoltContext, next: Any) -> BoltResponse | None:
        # Each request is served for its own tenant: the workspace, or the organisation of
        # an org-wide install. Listeners bind their services from this (handlers.tenant).
        if installs is None:
            context["peerpulse_tenant"] = (services.workspace_id, services.team_id)
        elif context.team_id or context.enterprise_id:
            tenant = Tenant.of(context.enterprise_id, context.team_id,
                               context.is_enterprise_install)
            context["peerpulse_tenant"] = (installs.tenant_id(tenant), tenant.key)
        return next()  # type: ignore[no-any-return]

    @app.middleware
    def drop_duplicate_events(body: dict[str, Any], context: BoltContext, next: Any
                              ) -> BoltResponse | None:
        # Slack redelivers events (and sometimes duplicates them): handle each event_id once.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not handlers.tenant.bound(services, context).call(
                events.record_delivery, str(event_id)):
            log.info("duplicate event %s ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()  # type: ignore[no-any-return]

    def verified(request: BoltRequest) -> bool:
        # Socket Mode requests come over the app's own authenticated connection.
        if request.mode == "socket_mode":
            return True
        first = {k: (v[0] if v else None) for k, v in request.headers.items()}
        return signed_by_slack(settings.slack_signing_secret, request.raw_body.encode(),
                               first.get("x-slack-request-timestamp"),
                               first.get("x-slack-signature"))

    @app.error
    def on_error(error: Exception, body: dict[str, Any], request: BoltRequest,
                 respond: Respond | None, client: WebClient | None) -> BoltResponse | None:
        # Failures outside listeners (listeners are wrapped by handlers.errors.guarded).
        # Never act on a body Slack did not sign: it could name any response_url or user.
        if not verified(request):
            log.warning("refused a request not signed by Slack (%s)", type(error).__name__)
            return BoltResponse(status=401, body={"error": "invalid request"})
        tell_user(error, body, respond, client or services.client)
        return None

    handlers.register(app, services, followups)
    handlers.events.register_fallback(app)  # last: only events no listener took
    return app


def _sync_new_tenant(services: Services, workspace_id: int) -> None:
    """A tenant just installed: learn its people now (in the background), not at the next
    daily roster sync."""
    import threading

    def sync() -> None:
        tenant = next((t for t in services.tenants() if t.workspace_id == workspace_id), None)
        if tenant is None:
            return
        try:
            result = tenant.call(roster.sync)
            log.info("roster of %s synced: %s", tenant.team_id, result.summary())
        except Exception:
            log.exception("roster sync of the new tenant %s failed; the daily sync retries",
                          tenant.team_id)

    threading.Thread(target=sync, name="peerpulse-install-sync", daemon=True).start()
