"""A local stand-in for the Slack Web API, used by the tests and by ``peerpulse demo``.

It owns a loopback HTTP server that answers the Web API methods PeerPulse uses the way
Slack does (token check, cursor pagination, ``ok: false`` errors, 429 with Retry-After),
serves the files_upload_v2 upload URLs and response_url endpoints, and records every call
and everything the bot posted so tests can assert on it.

Where Slack's exact behaviour is not documented the choice is marked "(approximation)".
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import email.parser
import email.policy
import hashlib
import itertools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_CHANNEL_NAME",
    "SLACKBOT",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "Call",
    "SlackSandbox",
]

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
APP_ID = "A0SANDBOX"
BOT_ID = "B0SANDBOX"
BOT_USER_ID = "U0BOTSELF"
DEFAULT_CHANNEL_ID = "C0GENERAL"
DEFAULT_CHANNEL_NAME = "general"

SLACKBOT: dict[str, Any] = {
    "id": "USLACKBOT",
    "team_id": TEAM_ID,
    "name": "slackbot",
    "real_name": "Slackbot",
    "deleted": False,
    "is_bot": False,  # Slack really reports Slackbot as not a bot
    "is_app_user": False,
    "tz": "America/Los_Angeles",
    "tz_label": "Pacific Standard Time",
    "tz_offset": -28800,
    "profile": {"real_name": "Slackbot", "display_name": "Slackbot", "email": "", "title": ""},
}

# Scopes each method needs; only checked when the sandbox is given a scope list.
METHOD_SCOPES: dict[str, str] = {
    "users.list": "users:read",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "conversations.open": "im:write",
    "conversations.info": "channels:read",
    "conversations.join": "channels:join",
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000


@dataclass(frozen=True)
class Call:
    """One request the sandbox answered (Web API, upload URL or response_url)."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    time: float
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")


@dataclass
class _Fault:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int | None  # None: until cleared


@dataclass
class _RateLimit:
    fraction: float
    retry_after: int
    rng: random.Random


@dataclass
class _Delay:
    seconds: float
    remaining: int | None


@dataclass
class _StoredFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    content: bytes | None = None
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False
    created: float = 0.0


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


_Reply = tuple[int, dict[str, Any], dict[str, str]]
_T = TypeVar("_T")


def base36(n: int) -> str:
    """``n`` in base 36 with upper-case digits, as Slack ids look.

    >>> base36(0), base36(36 ** 2 + 35)
    ('0', '10Z')
    """
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _short_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:10].upper()


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in {"1", "true", "yes"}


def _json_param(params: Mapping[str, Any], name: str) -> Any:
    """A parameter that arrives as a JSON string in form bodies and as JSON in JSON bodies."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise _ApiError(f"invalid_{name}") from exc
    return value


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind != "offset":
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _ApiError("invalid_cursor") from exc


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def _block_problems(blocks: Any, limit: int) -> list[str]:
    """The subset of Block Kit limits Slack enforces that PeerPulse could plausibly break."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"missing required field: type {where}")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                problems.append(f"block_id must be less than 256 characters {where}")
            if block_id in seen:
                problems.append(f"duplicate block_id {where}")
            seen.add(str(block_id))
        kind = block["type"]
        if kind == "section":
            if "text" in block and not 1 <= len(_text_of(block["text"])) <= 3000:
                problems.append(f"text must be 1-3000 characters {where}/text")
            if len(block.get("fields", [])) > 10:
                problems.append(f"no more than 10 fields allowed {where}/fields")
            if "text" not in block and "fields" not in block:
                problems.append(f"must provide text or fields {where}")
        elif kind == "header" and not 1 <= len(_text_of(block.get("text"))) <= 150:
            problems.append(f"text must be 1-150 characters {where}/text")
        elif kind == "actions" and not 1 <= len(block.get("elements", [])) <= 25:
            problems.append(f"elements must hold 1-25 items {where}/elements")
        elif kind == "context" and not 1 <= len(block.get("elements", [])) <= 10:
            problems.append(f"elements must hold 1-10 items {where}/elements")
    return problems


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


def wait_for(condition: Callable[[], _T], timeout: float = 5.0, interval: float = 0.02,
             what: str = "condition") -> _T:
    """Poll ``condition`` until it returns something truthy, and return that; raise
    `TimeoutError` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class SlackSandbox:
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
        self.token = token
        self.host = host
        self.port = port
        self.max_page_size = max_page_size
        self.scopes = None if scopes is None else frozenset(scopes)
        self.trigger_ttl = trigger_ttl
        self.response_url_max_uses = response_url_max_uses
        self.team_id = TEAM_ID
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self._calls: list[Call] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._messages: list[dict[str, Any]] = []
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._home: dict[str, str] = {}
        self._files: dict[str, _StoredFile] = {}
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._rate_limits: dict[str, _RateLimit] = {}
        self._delays: dict[str, _Delay] = {}
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "users.list": self._users_list,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.history": self._conversations_history,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.upload": self._files_upload_v1,
        }
        self.add_users([SLACKBOT, self._bot_user()])
        self.add_channel(DEFAULT_CHANNEL_ID, DEFAULT_CHANNEL_NAME)

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

    # ------------------------------------------------------------------ workspace data

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_USER_ID,
            "team_id": TEAM_ID,
            "name": "peerpulse",
            "real_name": "PeerPulse",
            "deleted": False,
            "is_bot": True,
            "is_app_user": False,
            "tz": "Europe/London",
            "profile": {
                "real_name": "PeerPulse",
                "display_name": "",
                "bot_id": BOT_ID,
                "api_app_id": APP_ID,
                "email": "",
                "title": "",
            },
        }

    def add_users(self, users: Iterable[Mapping[str, Any]]) -> None:
        """Add or replace members (``users.list`` member objects, keyed by ``id``)."""
        with self._lock:
            for user in users:
                self._users[str(user["id"])] = copy.deepcopy(dict(user))

    def users(self) -> list[dict[str, Any]]:
        """All members, in the order ``users.list`` returns them."""
        with self._lock:
            return copy.deepcopy(list(self._users.values()))

    def set_deleted(self, user_id: str, deleted: bool = True) -> None:
        """Deactivate (or reactivate) a member."""
        with self._lock:
            self._users[user_id]["deleted"] = deleted

    def add_usergroup(self, group_id: str, members: Iterable[str], handle: str = "") -> None:
        with self._lock:
            self._usergroups[group_id] = {
                "id": group_id,
                "handle": handle or group_id.lower(),
                "users": list(members),
            }

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        bot_is_member: bool = True,
    ) -> None:
        with self._lock:
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name,
                "is_channel": not is_private,
                "is_group": is_private,
                "is_im": False,
                "is_mpim": False,
                "is_private": is_private,
                "is_archived": False,
                "is_member": bot_is_member,
                "created": int(time.time()),
            }

    def dm_channel(self, user_id: str) -> str:
        """The stable id of the bot's DM with ``user_id`` (whether opened yet or not)."""
        return "D" + _short_hash(user_id)

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        status: int | None = None,
        *,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"``: any) with a failure.

        ``status`` defaults to 429 (``error="ratelimited"``, ``Retry-After: 1``) unless
        only ``error`` is given, which answers HTTP 200 with ``ok: false``. Retry-After is
        whole seconds, as Slack sends it (slack_sdk parses it with ``int``). 5xx statuses
        answer a non-JSON body, as Slack's edge does. ``times=None`` fails until cleared.
        """
        if status is None:
            status = 429 if error in (None, "ratelimited") else 200
        if status == 429:
            error = error or "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(status, error, retry_after, times))

    def rate_limit(
        self, method: str, fraction: float = 0.3, *, retry_after: int = 1, seed: int = 0
    ) -> None:
        """Answer a deterministic ``fraction`` of calls to ``method`` with 429 + Retry-After."""
        with self._lock:
            self._rate_limits[method] = _RateLimit(fraction, retry_after, random.Random(seed))

    def delay(self, method: str, seconds: float, *, times: int | None = None) -> None:
        """Sleep ``seconds`` before answering ``method`` (``times=None``: until cleared)."""
        with self._lock:
            self._delays[method] = _Delay(seconds, times)

    def clear_faults(self, method: str | None = None) -> None:
        """Remove failures, rate limits and delays (for one method, or all)."""
        with self._lock:
            for table in (self._faults, self._rate_limits, self._delays):
                if method is None:
                    table.clear()
                else:
                    table.pop(method, None)

    # ------------------------------------------------------------------ recordings

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _resolve_channel_filter(self, channel: str | None) -> str | None:
        if channel is not None and channel in self._users:
            return self.dm_channel(channel)
        return channel

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted and not deleted, oldest first, as Slack message objects.

        ``channel`` may be a channel id or a user id (the bot's DM with that user).
        """
        with self._lock:
            wanted = self._resolve_channel_filter(channel)
            return copy.deepcopy(
                [
                    {k: v for k, v in m.items() if not k.startswith("_")}
                    for m in self._messages
                    if not m.get("_deleted") and (wanted is None or m["channel"] == wanted)
                ]
            )

    def ephemerals(
        self, user: str | None = None, channel: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(
                [
                    m
                    for m in self._ephemerals
                    if (user is None or m["user"] == user)
                    and (channel is None or m["channel"] == channel)
                ]
            )

    def views(self, user: str | None = None) -> list[dict[str, Any]]:
        """Modals opened, pushed or updated (latest state of each), oldest first."""
        with self._lock:
            return copy.deepcopy(
                [
                    v
                    for v in self._views.values()
                    if v["type"] != "home" and (user is None or v["_user"] == user)
                ]
            )

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for ``user_id``."""
        with self._lock:
            view_id = self._home.get(user_id)
            return None if view_id is None else copy.deepcopy(self._views[view_id])

    def files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Completed uploads: id, filename, title, channels, content (bytes), ..."""
        with self._lock:
            wanted = self._resolve_channel_filter(channel)
            return [
                {
                    "id": f.id,
                    "filename": f.filename,
                    "title": f.title,
                    "channels": list(f.channels),
                    "content": f.content or b"",
                    "length": f.length,
                    "alt_txt": f.alt_txt,
                    "initial_comment": f.initial_comment,
                    "thread_ts": f.thread_ts,
                }
                for f in self._files.values()
                if f.completed and (wanted is None or wanted in f.channels)
            ]

    def responses(self, key: str) -> list[dict[str, Any]]:
        """JSON bodies POSTed to ``response_url(key)``, oldest first."""
        with self._lock:
            return copy.deepcopy(self._responses.get(key, []))

    def wait_for(
        self, condition: Callable[[], _T], timeout: float = 5.0, interval: float = 0.02
    ) -> _T:
        """Poll ``condition`` until it returns something truthy, and return that.

        Bolt acknowledges before its listeners finish, so what a listener posts arrives
        a moment after the HTTP answer: ``sandbox.wait_for(lambda: sandbox.messages(u))``.
        """
        return wait_for(condition, timeout, interval)

    def dump(self, path: str | Path) -> Path:
        """Write everything the bot posted as one JSON document; returns the path."""
        with self._lock:
            counts: dict[str, int] = {}
            for c in self._calls:
                counts[c.method] = counts.get(c.method, 0) + 1
            doc = {
                "team_id": self.team_id,
                "messages": self.messages(),
                "ephemerals": self.ephemerals(),
                "views": self.views(),
                "home": {u: self.home(u) for u in sorted(self._home)},
                "files": [
                    {
                        **{k: v for k, v in f.items() if k != "content"},
                        "size": len(f["content"]),
                        "sha256": hashlib.sha256(f["content"]).hexdigest(),
                    }
                    for f in self.files()
                ],
                "responses": {k: self.responses(k) for k in sorted(self._responses)},
                "calls_per_method": dict(sorted(counts.items())),
            }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n")
        return target

    # ------------------------------------------------------------------ HTTP plumbing

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str],
        status: int,
        response: dict[str, Any] | None,
    ) -> None:
        with self._lock:
            self._calls.append(Call(method, params, headers, status, time.time(), response))

    def _next_ts(self) -> str:
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{base36(next(self._ids)).rjust(8, '0')}"

    def _handle(self, request: _Handler) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = split.path
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            params = self._parse_params(split.query, raw, headers.get("content-type", ""))
            status, body, extra = self._dispatch(method, params, headers)
            self._record(method, params, headers, status, body)
            if status >= 500:
                self._send(request, status, b"upstream connect error", "text/plain", extra)
            else:
                payload = json.dumps(body).encode()
                self._send(request, status, payload, "application/json; charset=utf-8", extra)
        elif path.startswith("/upload/"):
            self._handle_upload(request, path[len("/upload/") :], raw, headers)
        elif path.startswith("/response/"):
            self._handle_response_url(request, path[len("/response/") :], raw, headers)
        else:
            self._send(request, 404, b"not found", "text/plain", {})

    @staticmethod
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

    @staticmethod
    def _parse_params(query: str, raw: bytes, content_type: str) -> dict[str, Any]:
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
                    params[name] = (
                        payload if part.get_filename() else bytes(payload or b"").decode()
                    )
        else:
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    def _injected(self, method: str) -> _Reply | None:
        """A fault, rate limit or delay configured for ``method``; sleeps for delays."""
        sleep = 0.0
        reply: _Reply | None = None
        with self._lock:
            for key in (method, "*"):
                delay = self._delays.get(key)
                if delay is not None and delay.remaining != 0:
                    sleep = max(sleep, delay.seconds)
                    if delay.remaining is not None:
                        delay.remaining -= 1
            for key in (method, "*"):
                faults = self._faults.get(key)
                if faults:
                    fault = faults[0]
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            faults.pop(0)
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(int(fault.retry_after))
                    reply = (fault.status, {"ok": False, "error": fault.error}, headers)
                    break
            if reply is None:
                for key in (method, "*"):
                    limit = self._rate_limits.get(key)
                    if limit is not None and limit.rng.random() < limit.fraction:
                        reply = (
                            429,
                            {"ok": False, "error": "ratelimited"},
                            {"Retry-After": str(int(limit.retry_after))},
                        )
                        break
        if sleep:
            time.sleep(sleep)
        return reply

    def _dispatch(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> _Reply:
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
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
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
                result = handler(params)
        except _ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, extra
        return 200, {"ok": True, **result}, extra

    def _handle_upload(
        self, request: _Handler, file_id: str, raw: bytes, headers: dict[str, str]
    ) -> None:
        injected = self._injected("upload")
        if injected is not None:
            status, body, extra = injected
            self._record("upload", {"file_id": file_id}, headers, status, body)
            self._send(request, status, json.dumps(body).encode(), "application/json", extra)
            return
        content = raw
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            parsed = self._parse_params("", raw, content_type)
            content = next((v for v in parsed.values() if isinstance(v, bytes)), b"")
        with self._lock:
            stored = self._files.get(file_id)
            if stored is not None and not stored.completed:
                stored.content = content
        status = 404 if stored is None else 200
        self._record("upload", {"file_id": file_id, "size": len(content)}, headers, status, None)
        answer = f"OK - {len(content)}" if stored else "file not found"
        self._send(request, status, answer.encode(), "text/plain", {})

    def _handle_response_url(
        self, request: _Handler, key: str, raw: bytes, headers: dict[str, str]
    ) -> None:
        injected = self._injected("response_url")
        if injected is not None:
            status, fault_body, extra = injected
            self._record("response_url", {"key": key}, headers, status, fault_body)
            self._send(request, status, json.dumps(fault_body).encode(), "application/json", extra)
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
        self._send(request, status, answer.encode(), "text/plain", {})

    # ------------------------------------------------------------------ lookups

    def _user(self, user_id: Any) -> dict[str, Any]:
        user = self._users.get(str(user_id or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return user

    def _conversation(self, channel: Any) -> dict[str, Any]:
        """A channel by id; a user id means the bot's DM with that user."""
        channel = str(channel or "")
        if channel in self._users:
            return self._open_dm([channel])
        found = self._channels.get(channel)
        if found is None:
            raise _ApiError("channel_not_found")
        if found.get("is_im"):
            user = self._users.get(found["user"])
            if user is not None and user.get("deleted"):
                raise _ApiError("user_disabled")  # (approximation)
        return found

    def _open_dm(self, user_ids: list[str]) -> dict[str, Any]:
        for uid in user_ids:
            user = self._user(uid)
            if user.get("deleted"):
                raise _ApiError("user_disabled")
            if user.get("is_bot") and uid != BOT_USER_ID:
                raise _ApiError("cannot_dm_bot")
        if len(user_ids) == 1:
            channel_id = self.dm_channel(user_ids[0])
        else:
            channel_id = "G" + _short_hash(*sorted(user_ids))
        if channel_id not in self._channels:
            self._channels[channel_id] = {
                "id": channel_id,
                "is_channel": False,
                "is_group": False,
                "is_im": len(user_ids) == 1,
                "is_mpim": len(user_ids) > 1,
                "is_private": True,
                "is_member": True,
                "created": int(time.time()),
                **({"user": user_ids[0]} if len(user_ids) == 1 else {"members": user_ids}),
            }
        return self._channels[channel_id]

    def _check_trigger(self, params: Mapping[str, Any]) -> None:
        trigger = str(params.get("trigger_id") or "")
        if not trigger:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        # Triggers minted by SignedClient start with their issue time in milliseconds.
        issued = re.match(r"^(\d{13})\.", trigger)
        ttl = self.trigger_ttl
        if ttl is not None and issued and time.time() - int(issued.group(1)) / 1000 > ttl:
            raise _ApiError("expired_trigger_id")

    # ------------------------------------------------------------------ methods

    def _api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"args": {k: v for k, v in params.items() if k != "token"}}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "PeerPulse Sandbox",
            "user": "peerpulse",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            limit = int(params.get("limit") or 0)
        except ValueError as exc:
            raise _ApiError("invalid_limit") from exc
        page = min(limit or self.max_page_size, self.max_page_size, 1000)
        cursor = str(params.get("cursor") or "")
        start = _decode_cursor(cursor) if cursor else 0
        members = list(self._users.values())
        chunk = members[start : start + page]
        end = start + len(chunk)
        next_cursor = _encode_cursor(end) if end < len(members) else ""
        return {
            "members": copy.deepcopy(chunk),
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": copy.deepcopy(self._user(params.get("user")))}

    def _users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email_address = str(params.get("email") or "").lower()
        for user in self._users.values():
            if email_address and user.get("profile", {}).get("email", "").lower() == email_address:
                return {"user": copy.deepcopy(user)}
        raise _ApiError("users_not_found")

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise _ApiError("no_such_subteam")
        users = group["users"]
        if not _truthy(params.get("include_disabled", False)):
            users = [u for u in users if not self._users.get(u, {}).get("deleted")]
        return {"users": list(users)}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel = self._conversation(params["channel"])
        else:
            raw_users = params.get("users") or ""
            if isinstance(raw_users, list):
                users = [str(u) for u in raw_users]
            else:
                users = [u.strip() for u in str(raw_users).split(",") if u.strip()]
            if not users:
                raise _ApiError("users_list_not_supplied")
            if len(users) > 8:
                raise _ApiError("too_many_users")
            channel = self._open_dm(users)
        if _truthy(params.get("return_im", False)):
            return {"channel": copy.deepcopy(channel)}
        return {"channel": {"id": channel["id"]}}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        return {"channel": copy.deepcopy(channel)}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        if not channel.get("is_channel"):
            raise _ApiError("method_not_supported_for_channel_type")
        channel["is_member"] = True
        return {"channel": copy.deepcopy(channel)}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        found = [
            {
                k: v
                for k, v in m.items()
                if not k.startswith("_") and k not in ("channel", "previous_versions")
            }
            for m in self._messages
            if m["channel"] == channel["id"] and not m.get("_deleted")
        ]
        return {"messages": copy.deepcopy(found[::-1]), "has_more": False}

    def _message_content(self, params: dict[str, Any], *, required: bool) -> dict[str, Any]:
        text = params.get("text")
        blocks = _json_param(params, "blocks")
        attachments = _json_param(params, "attachments")
        if required and not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if blocks is not None:
            problems = _block_problems(blocks, MAX_MESSAGE_BLOCKS)
            if problems:
                raise _ApiError(
                    "invalid_blocks",
                    errors=problems,
                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
                )
        content: dict[str, Any] = {}
        if text is not None:
            content["text"] = str(text)[:MAX_TEXT]
        if blocks is not None:
            content["blocks"] = blocks
        if attachments is not None:
            content["attachments"] = attachments
        metadata = _json_param(params, "metadata")
        if metadata is not None:
            content["metadata"] = metadata
        return content

    def _writable(self, channel_param: Any) -> dict[str, Any]:
        channel = self._conversation(channel_param)
        if channel.get("is_archived"):
            raise _ApiError("is_archived")
        if not channel.get("is_member"):
            raise _ApiError("not_in_channel")
        return channel

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(params.get("channel"))
        content = self._message_content(params, required=True)
        ts = self._next_ts()
        message = {
            "type": "message",
            "channel": channel["id"],
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            **content,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self._messages.append(message)
        public = {k: v for k, v in message.items() if k != "channel"}
        return {"channel": channel["id"], "ts": ts, "message": copy.deepcopy(public)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        user = self._user(params.get("user"))
        if channel.get("is_im") and channel.get("user") != user["id"]:
            raise _ApiError("user_not_in_channel")
        content = self._message_content(params, required=True)
        ts = self._next_ts()
        self._ephemerals.append(
            {"channel": channel["id"], "user": user["id"], "message_ts": ts, **content}
        )
        return {"message_ts": ts}

    def _find_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        ts = str(params.get("ts") or "")
        for message in self._messages:
            if message["channel"] == channel["id"] and message["ts"] == ts:
                if message.get("_deleted"):
                    break
                return message
        raise _ApiError("message_not_found")

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find_message(params)
        content = self._message_content(params, required=False)
        if not content:
            raise _ApiError("no_text")
        history = message.setdefault("previous_versions", [])
        history.append({k: v for k, v in message.items() if k in ("text", "blocks")})
        message.update(content)
        if "blocks" in params and not params.get("blocks"):
            message.pop("blocks", None)
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"channel": message["channel"], "ts": message["ts"], "text": message.get("text")}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find_message(params)
        message["_deleted"] = True
        return {"channel": message["channel"], "ts": message["ts"]}

    def _check_view(self, view: Any, *, home: bool = False) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view"]},
            )
        problems = []
        expected = "home" if home else "modal"
        if view.get("type") != expected:
            problems.append(f"must be '{expected}' [json-pointer:/view/type]")
        if not home:
            for key in ("title", "submit", "close"):
                if key in view and not 1 <= len(_text_of(view[key])) <= 24:
                    problems.append(f"must be 1-24 characters [json-pointer:/view/{key}/text]")
            if "title" not in view:
                problems.append("missing required field: title [json-pointer:/view/title]")
        if len(str(view.get("private_metadata", ""))) > 3000:
            problems.append("must be at most 3000 characters [json-pointer:/view/private_metadata]")
        if len(str(view.get("callback_id", ""))) > 255:
            problems.append("must be at most 255 characters [json-pointer:/view/callback_id]")
        problems += [
            p.replace("json-pointer:/", "json-pointer:/view/")
            for p in _block_problems(view.get("blocks", []), MAX_VIEW_BLOCKS)
        ]
        if problems:
            raise _ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        return view

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        user: str,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{_short_hash(view_id, json.dumps(view, sort_keys=True))}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
            "app_id": APP_ID,
            "bot_id": self.bot_id,
            "_user": user,
        }
        self._views.pop(view_id, None)  # re-insert so views() lists by last change
        self._views[view_id] = stored
        return {"view": {k: v for k, v in copy.deepcopy(stored).items() if k != "_user"}}

    def _trigger_user(self, params: dict[str, Any]) -> str:
        # Slack knows whose trigger it is; the sandbox reads it back from SignedClient's
        # trigger ids when present.
        parts = str(params.get("trigger_id") or "").split(".")
        return parts[2] if len(parts) >= 4 else ""

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_trigger(params)
        view = self._check_view(_json_param(params, "view"))
        return self._store_view(view, user=self._trigger_user(params))

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_trigger(params)
        view = self._check_view(_json_param(params, "view"))
        return self._store_view(view, user=self._trigger_user(params))

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = str(params.get("view_id") or "")
        external_id = str(params.get("external_id") or "")
        current = self._views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next(
                (v for v in self._views.values() if v["external_id"] == external_id), None
            )
        if current is None:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = self._check_view(_json_param(params, "view"), home=current["type"] == "home")
        return self._store_view(
            view,
            user=current["_user"],
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params.get("user_id"))
        view = self._check_view(_json_param(params, "view"), home=True)
        current = self._home.get(user["id"])
        if params.get("hash") and current and params["hash"] != self._views[current]["hash"]:
            raise _ApiError("hash_conflict")
        result = self._store_view(view, user=user["id"], view_id=current)
        self._home[user["id"]] = result["view"]["id"]
        return result

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            raise _ApiError("invalid_arguments")
        file_id = self._new_id("F")
        self._files[file_id] = _StoredFile(
            id=file_id, filename=filename, length=length, alt_txt=params.get("alt_txt")
        )
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _json_param(params, "files")
        if not isinstance(entries, list) or not entries:
            raise _ApiError("invalid_arguments")
        channels: list[str] = []
        if params.get("channel_id"):
            channels.append(self._writable(params["channel_id"])["id"])
        for name in str(params.get("channels") or "").split(","):
            if name.strip():
                channels.append(self._writable(name.strip())["id"])
        stored_files = []
        for entry in entries:
            stored = self._files.get(str(entry.get("id", "")))
            if stored is None or stored.content is None or stored.completed:
                raise _ApiError("file_not_found")  # (approximation)
            stored_files.append((stored, entry))
        answer = []
        for stored, entry in stored_files:
            stored.title = entry.get("title") or stored.filename
            stored.channels = channels
            stored.initial_comment = params.get("initial_comment")
            stored.thread_ts = params.get("thread_ts")
            stored.completed = True
            stored.created = time.time()
            answer.append(
                {
                    "id": stored.id,
                    "created": int(stored.created),
                    "name": stored.filename,
                    "title": stored.title,
                    "size": len(stored.content or b""),
                    "user": self.bot_user_id,
                    "channels": [c for c in channels if c.startswith("C")],
                    "ims": [c for c in channels if c.startswith("D")],
                    "url_private": f"{self.url}/files/{stored.id}/{stored.filename}",
                    "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{stored.id}",
                }
            )
        return {"files": answer}

    def _files_upload_v1(self, params: dict[str, Any]) -> dict[str, Any]:
        raise _ApiError("method_deprecated")  # retired by Slack; use files_upload_v2


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.devkit.sandbox``: serve a sandbox holding a simulated organisation."""
    parser = argparse.ArgumentParser(prog="python -m bot.devkit.sandbox", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="xoxb-sandbox")
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-page-size", type=int, default=1000)
    parser.add_argument("--dump", type=Path, help="write what was posted here on exit")
    args = parser.parse_args(argv)

    from bot.devkit.simulation import simulate_organisation

    org = simulate_organisation(n_people=args.people, n_teams=args.teams, seed=args.seed)
    sandbox = SlackSandbox(args.token, args.host, args.port, max_page_size=args.max_page_size)
    sandbox.add_users(org.users)
    for group_id, members in org.usergroups.items():
        sandbox.add_usergroup(group_id, members)
    sandbox.start()
    print(f"SLACK_API_URL={sandbox.base_url}")
    print(f"SLACK_BOT_TOKEN={sandbox.token}")
    print(f"{len(org.people)} people in {len(org.teams)} teams; Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if args.dump:
            print(f"wrote {sandbox.dump(args.dump)}")


if __name__ == "__main__":
    main()
