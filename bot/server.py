"""HTTP mode: the Bolt app behind gunicorn (a production WSGI server), plus `/healthz`.

`make_wsgi` is the HTTP edge. Before Bolt sees a request it refuses, with no side effect:
a body over `MAX_BODY_BYTES` (413, without reading it), a request not signed by Slack,
whatever is wrong with its headers (401), and a signed body that is not a well-formed
Slack payload (400). Bolt, its middleware and the error handler only ever see verified,
well-formed requests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request.internals import build_context, parse_body

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

EVENTS_PATH = "/slack/events"
# Slack's own payloads are a few kilobytes; the largest (a modal's submission, every block
# and value included) stays well under this. Anything bigger is refused unread.
MAX_BODY_BYTES = 1024 * 1024
# Slack's rule: a signature more than five minutes old is a replay.
MAX_SIGNATURE_AGE = 300


def signed_by_slack(secret: str | None, body: bytes, timestamp: str | None,
                    signature: str | None, now: float | None = None) -> bool:
    """True when ``signature`` is Slack's ``v0`` signature of ``body`` at ``timestamp`` and
    the timestamp is within five minutes of ``now``; False for anything else, malformed
    headers included (it never raises).

    >>> ts = "1700000000"
    >>> sig = "v0=" + hmac.new(b"s", b"v0:" + ts.encode() + b":{}", hashlib.sha256).hexdigest()
    >>> signed_by_slack("s", b"{}", ts, sig, now=1700000010)
    True
    >>> signed_by_slack("s", b"{}", "abc", sig, now=1700000010)
    False
    """
    if not secret or not timestamp or not signature:
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SIGNATURE_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


# Keys under which Slack nests objects (or ids); Bolt reads into them without checking.
_OBJECT_OR_ID = ("team", "user", "enterprise", "channel")  # null is allowed here only
_OBJECTS = ("event", "view", "container", "message", "previous_message", "item", "state",
            "function_data", "assistant_thread", "workflow_step")
_LISTS_OF_OBJECTS = ("authorizations", "actions", "response_urls")


def malformed(payload: Any, depth: int = 0) -> str | None:
    """Why ``payload`` is not shaped like a Slack payload, or None when it is.

    Checks the structure Bolt relies on (and Slack always sends), not the content: an
    object at the top, objects (or ids) where Slack nests them, actions with an
    ``action_id``, a ``view`` with its ``type`` and ``callback_id``, an event with its
    ``type``.

    >>> malformed({"type": "view_submission", "view": {"callback_id": "x"}})
    'view without type'
    >>> malformed([1, 2])
    'not a JSON object'
    """
    if not isinstance(payload, dict):
        return "not a JSON object"
    if not isinstance(payload.get("type", ""), str):
        return "type is not a string"
    for key in _OBJECT_OR_ID:
        if not isinstance(payload.get(key), str | dict | None):
            return f"{key} is not an object or an id"
    for key in _OBJECTS:
        if key in payload and not isinstance(payload[key], dict):
            return f"{key} is not an object"
    for key in _LISTS_OF_OBJECTS:
        if key in payload and not (isinstance(payload[key], list)
                                   and all(isinstance(v, dict) for v in payload[key])):
            return f"{key} is not a list of objects"
    kind = payload.get("type")
    if kind == "block_actions" and not (payload.get("actions") and all(
            isinstance(a.get("action_id"), str) for a in payload["actions"])):
        return "block_actions without action_id"
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view") or {}
        for field in ("type", "callback_id"):
            if not isinstance(view.get(field), str):
                return f"view without {field}"
    if kind == "event_callback" and not isinstance((payload.get("event") or {}).get("type"),
                                                   str):
        return "event without type"
    if depth < 3:
        nested = [payload[k] for k in _OBJECTS if k in payload]
        nested += (payload.get("authorizations") or [])[:1]
        for inner in nested:
            if problem := malformed(inner, depth + 1):
                return problem
    return None


def _answer(start_response: Callable[..., Any], status: int, body: Mapping[str, Any] | str,
            headers: dict[str, Any] | None = None) -> Iterable[bytes]:
    if not isinstance(body, str):
        body, headers = json.dumps(body), {"content-type": ["application/json"]}
    response = WsgiHttpResponse(status=status, body=body, headers=headers or {
        "content-type": ["text/plain; charset=utf-8"]})
    start_response(response.status, response.get_headers())
    return response.get_body()


def _read_body(environ: dict[str, Any], limit: int) -> bytes | int:
    """The request body, or the HTTP status refusing it (400, 413) without reading more."""
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    if declared:
        if not declared.isdigit():
            return 400
        if int(declared) > limit:
            return 413
        return stream.read(int(declared)) if stream is not None and int(declared) else b""
    if stream is None:
        return b""
    # No Content-Length (a chunked body): read at most one byte past the limit.
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return 413 if size > limit else b"".join(chunks)


def _bolt_request(text: str, body: dict[str, Any], query: str, headers: dict[str, Any]
                  ) -> BoltRequest:
    """Bolt's request for a body the edge has parsed and checked already: as
    ``BoltRequest(body=text, ...)`` builds it, without parsing the body a second time (a
    poll click's form-encoded JSON, its whole message included, is the costly part)."""
    request = BoltRequest(body="", query=query, headers=headers)
    request.raw_body, request.body = text, body
    request.context = build_context(BoltContext({}), body)
    return request


def make_wsgi(app: App, health: Callable[[], bool] = lambda: True, *, signing_secret: str,
              max_body_bytes: int = MAX_BODY_BYTES) -> WSGIApp:
    """``GET /healthz`` and ``POST /slack/events`` (see the module docstring), and with
    installs through OAuth ``GET /slack/install`` and ``GET /slack/oauth_redirect``; 404
    elsewhere."""

    def events(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = _read_body(environ, max_body_bytes)
        if isinstance(raw, int):
            log.warning("refused a request body: %s", "too large" if raw == 413
                        else "bad Content-Length")
            return _answer(start_response, raw, {"error": "request body too large"
                                                 if raw == 413 else "bad request"})
        if not signed_by_slack(signing_secret, raw, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                               environ.get("HTTP_X_SLACK_SIGNATURE")):
            log.info("refused a request that is not signed by Slack")
            return _answer(start_response, 401, {"error": "invalid request"})
        content_type = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            text = raw.decode("utf-8")
            body = parse_body(text, content_type or None)
            problem = malformed(body)
        except ValueError as exc:  # not UTF-8, or not JSON where JSON is due
            problem = f"cannot be parsed ({type(exc).__name__})"
        if problem:
            log.warning("refused a signed but malformed request: %s", problem)
            return _answer(start_response, 400, {"error": f"malformed request: {problem}"})
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        if content_type:
            headers["content-type"] = content_type
        response = app.dispatch(_bolt_request(text, body, environ.get("QUERY_STRING", ""),
                                              headers))
        return _answer(start_response, response.status, response.body, response.headers)

    # Installs through OAuth: Bolt's install and redirect pages.
    flow = getattr(app, "oauth_flow", None)

    def oauth(environ: dict[str, Any], start_response: Callable[..., Any], install: bool
              ) -> Iterable[bytes]:
        assert flow is not None
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        request = BoltRequest(body="", query=environ.get("QUERY_STRING", ""), headers=headers)
        response = (flow.handle_installation(request) if install
                    else flow.handle_callback(request))
        return _answer(start_response, response.status, response.body, response.headers)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method in ("GET", "HEAD"):
            ok = health()
            return _answer(start_response, 200 if ok else 503, {"ok": ok})
        if path == EVENTS_PATH and method == "POST":
            return events(environ, start_response)
        if flow is not None and method == "GET" and path in (flow.install_path,
                                                             flow.redirect_uri_path):
            return oauth(environ, start_response, install=path == flow.install_path)
        return _answer(start_response, 404, "Not Found")

    return wsgi


def _check_port(host: str, port: int) -> None:
    """Fail with one line now if nothing can listen on ``host:port`` (gunicorn would retry
    for seconds, then print several)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def worker_count(database_url: str, requested: int | None) -> int:
    """How many gunicorn workers to run: ``requested``, else one per core on PostgreSQL
    and one on SQLite, which serves from one process (ConfigError when asked for more)."""
    import os

    if database_url.startswith("postgresql"):
        return requested or os.cpu_count() or 1
    if requested is not None and requested > 1:
        raise ConfigError(f"SQLite serves from one process, so --workers {requested} is "
                          "refused: set DATABASE_URL to PostgreSQL for several workers")
    return 1


def threaded_worker() -> type:
    """gunicorn's threaded worker, with connections closed off its event loop.

    Since gunicorn 26 the threaded worker closes a connection lingeringly (FIN, then it
    waits up to 2 s for the client's) on the one thread that also accepts connections, so
    while it waits for one client nothing else is accepted. Slack's clients are across the
    internet: with clients that close 50 ms after reading the answer, 2 workers served 40
    requests/s (`tests/e2e/test_http_foundation.py` holds what this fixes). Here the
    lingering close runs on threads of its own.
    """
    from concurrent.futures import ThreadPoolExecutor

    from gunicorn import util
    from gunicorn.workers.gthread import ThreadWorker

    if not hasattr(util, "close_graceful"):  # gunicorn before 26 closes at once
        return ThreadWorker

    class Worker(ThreadWorker):  # type: ignore[misc]
        closer: ThreadPoolExecutor | None = None

        def finish_request(self, conn: Any, fs: Any) -> None:
            if self.closer is None:
                self.closer = ThreadPoolExecutor(32, thread_name_prefix="gunicorn-close")
            closer, close = self.closer, conn.close

            def close_off_loop(graceful: bool = False) -> None:
                if graceful:
                    closer.submit(close, graceful=True)
                else:
                    close()

            conn.close = close_off_loop
            super().finish_request(conn, fs)

    return Worker


def serve_http(settings: Settings, host: str, port: int, *, workers: int | None = None,
               threads: int = 8) -> None:
    """Run gunicorn with ``workers`` threaded workers (`worker_count`).

    The runtime is built here, before gunicorn starts (migrations applied, `auth.test`
    answered), so a bad token, an unreachable Slack or database stops `peerpulse run` with
    one line instead of a worker that fails to boot. Each worker inherits it through the
    fork, opens its own database connections and starts the background work itself: its
    own outbox sender, and a bid for leadership (`bot.leader`), so the scheduled jobs run
    in one process however many workers and replicas serve the database. Threads give
    each worker concurrency for Slack's 3-second acks.
    """
    from gunicorn.app.base import BaseApplication

    from bot.runtime import build_runtime

    count = worker_count(settings.database_url, workers)
    _check_port(host, port)
    runtime = build_runtime(settings)
    log.info("serving POST %s and GET /healthz on http://%s:%s (%d worker%s)", EVENTS_PATH,
             host, port, count, "" if count == 1 else "s")

    def start_in_worker() -> None:
        # Connections opened before the fork belong to the parent: the worker opens its own.
        runtime.services.sessions.kw["bind"].dispose(close=False)
        runtime.start_background()

    def health() -> bool:
        from sqlalchemy import text

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
            self.cfg.set("workers", count)
            if "control_socket_disable" in self.cfg.settings:  # newer gunicorn (27 has it)
                # Unused here, and one path per user: replicas on one host would share it.
                self.cfg.set("control_socket_disable", True)
            self.cfg.set("worker_class", threaded_worker())
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", settings.log_level.lower())
            self.cfg.set("post_worker_init", lambda worker: start_in_worker())
            self.cfg.set("worker_exit", lambda server, worker: runtime.stop())

        def load(self) -> WSGIApp:
            return make_wsgi(runtime.app, health,
                             signing_secret=settings.slack_signing_secret or "")

    try:
        PeerPulseServer().run()
    finally:
        runtime.services.sessions.kw["bind"].dispose()


def serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.runtime import build_runtime

    runtime = build_runtime(settings)
    log.info("connected to Slack in Socket Mode")
    runtime.start_background()
    try:
        SocketModeHandler(runtime.app, settings.slack_app_token).start()
    finally:
        runtime.stop()
