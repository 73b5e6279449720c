"""HTTP mode: the Bolt app behind gunicorn (a production WSGI server), plus `/healthz`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.config import Settings

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi(bolt_handler: WSGIApp, health: Callable[[], bool] = lambda: True) -> WSGIApp:
    """Route ``GET /healthz`` here and everything else to Bolt (which serves /slack/events)."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            ok = health()
            body = json.dumps({"ok": ok}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return bolt_handler(environ, start_response)

    return wsgi


def serve_http(settings: Settings, host: str, port: int, *, threads: int = 8) -> None:
    """Run gunicorn with one threaded worker; the runtime is built inside the worker.

    One worker, because the background scheduler must run once per deployment; threads
    give concurrency for Slack's 3-second acks.
    """
    from gunicorn.app.base import BaseApplication

    from bot.runtime import Runtime, build_runtime

    holder: dict[str, Runtime] = {}

    def stop_runtime() -> None:
        runtime = holder.get("runtime")
        if runtime is not None:
            runtime.stop()

    def health() -> bool:
        from sqlalchemy import text

        runtime = holder.get("runtime")
        if runtime is None:
            return False
        try:
            with runtime.services.sessions() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            log.exception("health check failed")
            return False

    class PeerPulseServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", settings.log_level.lower())
            self.cfg.set("post_worker_init", lambda worker: holder["runtime"].start_background())
            self.cfg.set("worker_exit", lambda server, worker: stop_runtime())

        def load(self) -> WSGIApp:
            runtime = build_runtime(settings)
            holder["runtime"] = runtime
            return make_wsgi(SlackRequestHandler(runtime.app), health)

    PeerPulseServer().run()


def serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.runtime import build_runtime

    runtime = build_runtime(settings)
    runtime.start_background()
    try:
        SocketModeHandler(runtime.app, settings.slack_app_token).start()
    finally:
        runtime.stop()
