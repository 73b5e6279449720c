"""The sandbox's HTTP side: :class:`SlackSandbox` serves the Web API, the files_upload_v2 upload
URLs and response_urls on loopback, parses each request (query, form, JSON or multipart), puts
it through injected faults, the token and scope checks, and records it."""

from __future__ import annotations

import base64
import binascii
import copy
import email.parser
import email.policy
import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.devkit.sandbox.faults import HTML_BODY, HTML_PAGE, FaultInjection, Reply
from bot.devkit.sandbox.methods import METHOD_SCOPES, ApiError, WebApi
from bot.devkit.sandbox.oauth import Grant


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output quiet

    def do_GET(self) -> None:
        self.server.sandbox._handle(self)

    def do_POST(self) -> None:
        self.server.sandbox._handle(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops bursts of concurrent clients

    def __init__(self, address: tuple[str, int], sandbox: SlackSandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)


def _send(
    request: _Handler, status: int, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def _basic_auth(headers: dict[str, str]) -> tuple[str, str] | None:
    auth = headers.get("authorization", "")
    if not auth.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _parse_params(query: str, raw: bytes, content_type: str) -> dict[str, Any]:
    """The query string and a form, JSON or multipart body as one dict (file parts as bytes)."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not raw:
        return params
    if content_type.startswith("application/json"):
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return {**params, "_invalid_json": True}
        if isinstance(body, dict):
            params.update(body)
    elif content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                params[name] = payload if part.get_filename() else bytes(payload or b"").decode()
    else:
        params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return params


class SlackSandbox(FaultInjection, WebApi):
    """A loopback Slack Web API.

    >>> with SlackSandbox() as sandbox:  # doctest: +SKIP
    ...     client = WebClient(token=sandbox.token, base_url=sandbox.base_url)
    ...     client.chat_postMessage(channel="U123", text="hi")

    Parameters
    ----------
    token:
        The bot token that requests must carry (``Authorization: Bearer``).
    max_page_size:
        Upper bound on members per ``users.list`` page, below ``limit`` if need be:
        Slack may return fewer than ``limit``.
    scopes:
        When given, methods needing a scope outside it answer ``missing_scope``.
    trigger_ttl:
        Seconds a trigger id issued by :class:`bot.devkit.signed_client.SignedClient` stays valid.
    """

    def __init__(
        self,
        token: str = "xoxb-sandbox",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_page_size: int = 1000,
        scopes: Iterable[str] | None = None,
        trigger_ttl: float | None = 3.0,
        response_url_max_uses: int = 5,
    ) -> None:
        super().__init__()
        self.token = token
        self.host = host
        self.port = port
        self.max_page_size = max_page_size
        self.scopes = None if scopes is None else frozenset(scopes)
        self.trigger_ttl = trigger_ttl
        self.response_url_max_uses = response_url_max_uses
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackSandbox:
        """Start serving in a background thread; returns self."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; recorded data stays readable."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SlackSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL of the server, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Web API base URL for ``WebClient(base_url=...)`` (ends in ``/api/``)."""
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        """A response_url served by the sandbox; what is POSTed to it is kept under ``key``."""
        with self._lock:
            self._responses.setdefault(key, [])
        return f"{self.url}/response/{key}"

    # ------------------------------------------------------------------ installations

    def add_team(self, team_id: str, name: str, *, enterprise_id: str | None = None,
                 enterprise_name: str | None = None) -> None:
        """Another workspace (part of an Enterprise Grid organisation when
        ``enterprise_id`` is given); its members are the users whose ``team_id`` is it."""
        self.tenants.add_team(team_id, name, enterprise_id=enterprise_id,
                              enterprise_name=enterprise_name)

    @property
    def authorize_url(self) -> str:
        """Slack's authorize page, as served here (``/oauth/v2/authorize``)."""
        return f"{self.url}/oauth/v2/authorize"

    def grants(self, target: str | None = None) -> list[Grant]:
        """Installations' tokens (of ``target``: a team or enterprise id), revoked included."""
        with self.tenants.lock:
            return [g for g in self.tenants.grants.values() if target is None or target in (
                g.team_id, g.enterprise_id)]

    def uninstall(self, target: str) -> dict[str, Any]:
        """Uninstall the app from a workspace or organisation: its tokens are revoked, and
        the ``app_uninstalled`` event Slack then sends is returned (to send signed)."""
        self.tenants.revoke(target)
        return {"type": "app_uninstalled"}

    def revoke_tokens(self, target: str) -> dict[str, Any]:
        """Revoke the bot token of a workspace or organisation; returns the
        ``tokens_revoked`` event Slack sends."""
        gone = self.tenants.revoke(target)
        return {"type": "tokens_revoked",
                "tokens": {"oauth": [], "bot": [g.bot_user_id for g in gone]}}

    # ------------------------------------------------------------------ requests

    def _handle(self, request: _Handler) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = split.path
        if path == "/oauth/v2/authorize":
            params = dict(parse_qsl(split.query, keep_blank_values=True))
            status, location, page = self.tenants.authorize(params)
            self._record("oauth.authorize", params, headers, status, None)
            _send(request, status, page.encode(), "text/plain", location)
        elif path == "/api/oauth.v2.access":
            params = _parse_params(split.query, raw, headers.get("content-type", ""))
            answer = self.tenants.exchange(params, _basic_auth(headers))
            body = {"ok": "error" not in answer, **answer}
            self._record("oauth.v2.access", params, headers, 200, body)
            _send(request, 200, json.dumps(body).encode(), "application/json; charset=utf-8", {})
        elif path.startswith("/api/"):
            method = path[len("/api/") :]
            params = _parse_params(split.query, raw, headers.get("content-type", ""))
            status, body, extra = self._dispatch(method, params, headers)
            self._record(method, params, headers, status, body)
            if body.get(HTML_BODY):
                _send(request, status, HTML_PAGE.encode(), "text/html", extra)
            elif status >= 500:
                _send(request, status, b"upstream connect error", "text/plain", extra)
            else:
                payload = json.dumps(body).encode()
                _send(request, status, payload, "application/json; charset=utf-8", extra)
        elif path.startswith("/upload/"):
            self._handle_upload(request, path[len("/upload/") :], raw, headers)
        elif path.startswith("/response/"):
            self._handle_response_url(request, path[len("/response/") :], raw, headers)
        else:
            _send(request, 404, b"not found", "text/plain", {})

    def _dispatch(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> Reply:
        injected = self._injected(method)
        if injected is not None:
            return injected
        if params.get("_invalid_json"):
            return 200, {"ok": False, "error": "invalid_json"}, {}
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None
        token = token or params.get("token")
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        grant: Grant | None = None
        if token != self.token:
            grant = self.tenants.grants.get(str(token))
            if grant is None:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            if grant.revoked:
                return 200, {"ok": False, "error": "token_revoked"}, {}
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        extra: dict[str, str] = {}
        if self.scopes is not None:
            extra["x-oauth-scopes"] = ",".join(sorted(self.scopes))
            needed = METHOD_SCOPES.get(method)
            if needed is not None and needed not in self.scopes:
                body = {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": needed,
                    "provided": ",".join(sorted(self.scopes)),
                }
                return 200, body, extra
        try:
            with self._lock:
                self._grant = grant
                try:
                    result = handler(params)
                finally:
                    self._grant = None
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, extra
        late = self._injected(method, after=True)  # done, then answered with a failure
        if late is not None:
            return late
        return 200, {"ok": True, **result}, extra

    def _answered_with_fault(
        self, request: _Handler, endpoint: str, params: dict[str, Any], headers: dict[str, str]
    ) -> bool:
        """Answer a fault injected for ``endpoint`` (upload or response_url), if there is one."""
        injected = self._injected(endpoint)
        if injected is None:
            return False
        status, body, extra = injected
        self._record(endpoint, params, headers, status, body)
        _send(request, status, json.dumps(body).encode(), "application/json", extra)
        return True

    def _handle_upload(
        self, request: _Handler, file_id: str, raw: bytes, headers: dict[str, str]
    ) -> None:
        if self._answered_with_fault(request, "upload", {"file_id": file_id}, headers):
            return
        content = raw
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            parsed = _parse_params("", raw, content_type)
            content = next((v for v in parsed.values() if isinstance(v, bytes)), b"")
        with self._lock:
            stored = self._files.get(file_id)
            if stored is not None and not stored.completed:
                stored.content = content
        status = 404 if stored is None else 200
        self._record("upload", {"file_id": file_id, "size": len(content)}, headers, status, None)
        answer = f"OK - {len(content)}" if stored else "file not found"
        _send(request, status, answer.encode(), "text/plain", {})

    def _handle_response_url(
        self, request: _Handler, key: str, raw: bytes, headers: dict[str, str]
    ) -> None:
        if self._answered_with_fault(request, "response_url", {"key": key}, headers):
            return
        body: Any
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            params: dict[str, Any] = body
        else:
            params = {"_raw": raw.decode("utf-8", "replace")}
        with self._lock:
            posted = self._responses.setdefault(key, [])
            if not isinstance(body, dict):
                status, answer = 400, "invalid_payload"
            elif len(posted) >= self.response_url_max_uses:
                status, answer = 404, "used_url"  # (approximation) of Slack's 5-use limit
            elif not any(k in body for k in ("text", "blocks", "attachments")) and not (
                body.get("delete_original")
            ):
                status, answer = 400, "no_text"
            else:
                status, answer = 200, "ok"
                posted.append(copy.deepcopy(body))
        self._record("response_url", {"key": key, **params}, headers, status, None)
        _send(request, status, answer.encode(), "text/plain", {})
