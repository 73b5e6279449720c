"""Plays Slack's side of the HTTP Events API: signed requests to the bot's ``/slack/events``.

Tests and ``peerpulse demo`` use it to send slash commands, interactions, shortcuts and
events shaped like Slack's own payloads, signed with the app's signing secret, and
``send`` lets a test forge unsigned, badly signed or stale requests.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.devkit.workspace import (
    APP_ID,
    BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_CHANNEL_NAME,
    TEAM_DOMAIN,
)

__all__ = ["Response", "ResponseUrls", "SignedClient"]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
VERIFICATION_TOKEN = "sandbox-verification-token"  # deprecated by Slack, still sent


class ResponseUrls(Protocol):
    """Anything that can mint response_urls, e.g. :class:`bot.devkit.sandbox.SlackSandbox`."""

    def response_url(self, key: str) -> str: ...


@dataclass
class Response:
    """What the bot answered."""

    status: int
    headers: dict[str, str]
    body: bytes
    response_key: str | None = None
    response_url: str | None = None
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None


class SignedClient:
    """Sends signed Slack requests to ``{base_url}/slack/events``.

    Parameters
    ----------
    base_url:
        Root of the bot's HTTP server, e.g. ``http://127.0.0.1:3000``.
    signing_secret:
        The app's signing secret (the bot's ``SLACK_SIGNING_SECRET``).
    response_urls:
        Where response_urls point: pass the sandbox so the bot's ``respond()`` calls are
        recorded there; otherwise they point at an address that refuses connections.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        team_id: str = "T0SANDBOX",
        *,
        response_urls: ResponseUrls | None = None,
        api_app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        path: str = "/slack/events",
        timeout: float = 10.0,
        enterprise_id: str | None = None,
        enterprise_install: bool = False,
    ) -> None:
        self.url = base_url.rstrip("/") + path
        # Enterprise Grid: the organisation of ``team_id``, and whether the app is installed
        # org-wide there (requests then carry is_enterprise_install: true).
        self.enterprise_id = enterprise_id
        self.enterprise_install = enterprise_install
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.response_urls = response_urls
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()

    # ------------------------------------------------------------------ low level

    def sign(self, body: bytes, timestamp: int | str) -> str:
        """The ``X-Slack-Signature`` Slack would send for this body and timestamp."""
        signature = self._verifier.generate_signature(timestamp=str(timestamp), body=body)
        assert signature is not None
        return signature

    def send(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | str | None = None,
        signature: str | None = None,
        sign: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """POST ``body`` as is.

        With ``sign=True`` the request carries a timestamp (now, unless given: pass
        ``time.time() - 600`` for a stale one) and a signature (computed, unless given).
        With ``sign=False`` neither header is sent unless passed explicitly.
        """
        request_headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0"}
        if sign:
            timestamp = int(time.time()) if timestamp is None else timestamp
            signature = signature or self.sign(body, timestamp)
        if timestamp is not None:
            request_headers["X-Slack-Request-Timestamp"] = str(int(float(timestamp)))
        if signature is not None:
            request_headers["X-Slack-Signature"] = signature
        request_headers.update(headers or {})
        request = urllib.request.Request(self.url, data=body, headers=request_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Response(answer.status, _lower(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, _lower(error.headers.items()), error.read())

    def send_form(self, fields: Mapping[str, str], **kwargs: Any) -> Response:
        return self.send(urlencode(fields).encode(), FORM, **kwargs)

    def send_json(self, document: Any, **kwargs: Any) -> Response:
        return self.send(json.dumps(document).encode(), JSON, **kwargs)

    # ------------------------------------------------------------------ helpers

    def _next(self) -> int:
        with self._seq_lock:
            return next(self._seq)

    def trigger_id(self, user_id: str) -> str:
        """A fresh trigger id; it carries its issue time so the sandbox can expire it."""
        return f"{int(time.time() * 1000)}.{self._next()}.{user_id}.{secrets.token_hex(8)}"

    def _response_url(self, kind: str) -> tuple[str, str]:
        key = f"{kind}-{self._next()}-{secrets.token_hex(4)}"
        if self.response_urls is not None:
            return key, self.response_urls.response_url(key)
        return key, f"http://127.0.0.1:9/response/{key}"

    def _enterprise(self) -> dict[str, str] | None:
        return {"id": self.enterprise_id} if self.enterprise_id else None

    def _team(self) -> dict[str, str]:
        return {"id": self.team_id, "domain": TEAM_DOMAIN}

    def _user(self, user_id: str, user_name: str | None) -> dict[str, str]:
        name = user_name or user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _interaction(self, payload: dict[str, Any], **kwargs: Any) -> Response:
        response = self.send_form({"payload": json.dumps(payload)}, **kwargs)
        response.request = payload
        return response

    # ------------------------------------------------------------------ slash commands

    def slash_command(
        self,
        command: str,
        text: str,
        user_id: str,
        *,
        channel_id: str = DEFAULT_CHANNEL_ID,
        channel_name: str = DEFAULT_CHANNEL_NAME,
        user_name: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        **send_kwargs: Any,
    ) -> Response:
        """A slash command as Slack sends it (form-encoded)."""
        key, default_url = self._response_url("command")
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "true" if self.enterprise_install else "false",
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "response_url": response_url or default_url,
            "trigger_id": trigger_id or self.trigger_id(user_id),
        }
        response = self.send_form(fields, **send_kwargs)
        response.request = fields
        if response_url is None:
            response.response_key, response.response_url = key, default_url
        else:
            response.response_url = response_url
        return response

    # ------------------------------------------------------------------ interactions

    def block_action(
        self,
        user_id: str,
        action_id: str,
        value: str | None = None,
        *,
        block_id: str = "actions",
        action_type: str = "button",
        action: Mapping[str, Any] | None = None,
        channel_id: str = DEFAULT_CHANNEL_ID,
        message_ts: str | None = None,
        message: Mapping[str, Any] | None = None,
        view: Mapping[str, Any] | None = None,
        state_values: Mapping[str, Any] | None = None,
        user_name: str | None = None,
        **send_kwargs: Any,
    ) -> Response:
        """A ``block_actions`` interaction: a click in a message, or in a view if ``view``.

        ``action`` merges extra fields into the action, e.g.
        ``{"selected_users": [...]}`` for a ``multi_users_select``.
        """
        key, response_url = self._response_url("action")
        action_dict: dict[str, Any] = {
            "type": action_type,
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
        }
        if value is not None:
            action_dict["value"] = value
        action_dict.update(action or {})
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.trigger_id(user_id),
            "team": self._team(),
            "enterprise": self._enterprise(),
            "is_enterprise_install": self.enterprise_install,
            "state": {"values": dict(state_values or {})},
            "actions": [action_dict],
        }
        if view is not None:
            view_dict = dict(view)
            payload["container"] = {"type": "view", "view_id": view_dict.get("id", "")}
            view_dict.setdefault("state", {"values": dict(state_values or {})})
            payload["view"] = view_dict
        else:
            ts = message_ts or (message or {}).get("ts") or f"{time.time():.6f}"
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id, "name": _channel_name(channel_id)}
            payload["message"] = dict(message or {"type": "message", "ts": ts, "text": ""})
            payload["response_url"] = response_url
        response = self._interaction(payload, **send_kwargs)
        if view is None:
            response.response_key, response.response_url = key, response_url
        return response

    def view_submission(
        self,
        user_id: str,
        callback_id: str,
        state_values: Mapping[str, Any],
        private_metadata: str = "",
        *,
        view_id: str | None = None,
        view: Mapping[str, Any] | None = None,
        user_name: str | None = None,
        **send_kwargs: Any,
    ) -> Response:
        """A ``view_submission``; ``state_values`` is ``view.state.values``:
        ``{block_id: {action_id: {"type": ..., "value"|"selected_users"|...: ...}}}``.

        ``view`` (e.g. one recorded by the sandbox) supplies the rest of the view.
        """
        view_dict = self._view(callback_id, state_values, private_metadata, view_id, view)
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id, user_name),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.trigger_id(user_id),
            "view": view_dict,
            "response_urls": [],
            "is_enterprise_install": self.enterprise_install,
            "enterprise": self._enterprise(),
        }
        return self._interaction(payload, **send_kwargs)

    def view_closed(
        self,
        user_id: str,
        callback_id: str,
        *,
        private_metadata: str = "",
        view_id: str | None = None,
        view: Mapping[str, Any] | None = None,
        **send_kwargs: Any,
    ) -> Response:
        view_dict = self._view(callback_id, {}, private_metadata, view_id, view)
        payload = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user_id, None),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "view": view_dict,
            "is_cleared": False,
            "is_enterprise_install": self.enterprise_install,
            "enterprise": self._enterprise(),
        }
        return self._interaction(payload, **send_kwargs)

    def _view(
        self,
        callback_id: str,
        state_values: Mapping[str, Any],
        private_metadata: str,
        view_id: str | None,
        view: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        base = {k: v for k, v in dict(view or {}).items() if not k.startswith("_")}
        vid = view_id or base.get("id") or f"V0SIGNED{self._next():04d}"
        return {
            "type": "modal",
            "blocks": [],
            "title": {"type": "plain_text", "text": "PeerPulse"},
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit"},
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": vid,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            **base,
            "id": vid,
            "team_id": self.team_id,
            "app_id": self.api_app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": base.get("bot_id", "B0SANDBOX"),
            "callback_id": callback_id,
            "private_metadata": private_metadata or base.get("private_metadata", ""),
            "state": {"values": dict(state_values)},
        }

    def shortcut(
        self, callback_id: str, user_id: str, *, user_name: str | None = None, **send_kwargs: Any
    ) -> Response:
        """A global shortcut."""
        payload = {
            "type": "shortcut",
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(),
            "user": self._user(user_id, user_name),
            "is_enterprise_install": self.enterprise_install,
            "enterprise": self._enterprise(),
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(user_id),
        }
        return self._interaction(payload, **send_kwargs)

    def message_shortcut(
        self,
        callback_id: str,
        user_id: str,
        message_author: str,
        message_text: str = "",
        *,
        message_ts: str | None = None,
        channel_id: str = DEFAULT_CHANNEL_ID,
        user_name: str | None = None,
        **send_kwargs: Any,
    ) -> Response:
        """A message shortcut (``message_action``) on a message by ``message_author``."""
        key, response_url = self._response_url("message-shortcut")
        ts = message_ts or f"{time.time():.6f}"
        payload = {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(),
            "user": self._user(user_id, user_name),
            "channel": {"id": channel_id, "name": _channel_name(channel_id)},
            "is_enterprise_install": self.enterprise_install,
            "enterprise": self._enterprise(),
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(user_id),
            "response_url": response_url,
            "message_ts": ts,
            "message": {
                "type": "message",
                "user": message_author,
                "ts": ts,
                "text": message_text,
                "team": self.team_id,
            },
        }
        response = self._interaction(payload, **send_kwargs)
        response.response_key, response.response_url = key, response_url
        return response

    # ------------------------------------------------------------------ events

    def event(
        self,
        event: Mapping[str, Any],
        event_id: str | None = None,
        retry_num: int | None = None,
        *,
        retry_reason: str = "http_timeout",
        **send_kwargs: Any,
    ) -> Response:
        """An ``event_callback`` envelope around ``event``; a retry adds Slack's headers."""
        now = time.time()
        inner = {"event_ts": f"{now:.6f}", **dict(event)}
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": self.enterprise_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._next():04d}{secrets.token_hex(4).upper()}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.enterprise_install,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_hex(12)}",
        }
        headers = dict(send_kwargs.pop("headers", None) or {})
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        response = self.send_json(envelope, headers=headers, **send_kwargs)
        response.request = envelope
        return response

    def app_home_opened(self, user_id: str, **send_kwargs: Any) -> Response:
        return self.event(
            {"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home"},
            **send_kwargs,
        )

    def reaction(
        self,
        user_id: str,
        reaction: str,
        item_user: str,
        *,
        channel_id: str = DEFAULT_CHANNEL_ID,
        message_ts: str = "1700000000.000100",
        removed: bool = False,
        **send_kwargs: Any,
    ) -> Response:
        """``reaction_added`` (or ``reaction_removed``) on a message by ``item_user``."""
        return self.event(
            {
                "type": "reaction_removed" if removed else "reaction_added",
                "user": user_id,
                "reaction": reaction,
                "item_user": item_user,
                "item": {"type": "message", "channel": channel_id, "ts": message_ts},
            },
            **send_kwargs,
        )

    def url_verification(self, challenge: str, **send_kwargs: Any) -> Response:
        document = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.send_json(document, **send_kwargs)


def _lower(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


def _channel_name(channel_id: str) -> str:
    if channel_id == DEFAULT_CHANNEL_ID:
        return DEFAULT_CHANNEL_NAME
    return "directmessage" if channel_id.startswith("D") else channel_id.lower()
