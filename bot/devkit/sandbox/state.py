"""What the sandbox workspace holds (members, user groups, channels) and everything recorded in
it: messages, ephemerals, views, files, response_url posts and every call answered."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.devkit.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_CHANNEL_NAME,
    SLACKBOT,
    TEAM_ID,
    base36,
)

_T = TypeVar("_T")


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
    def token(self) -> str | None:
        """The bearer token the call carried."""
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else None

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")


@dataclass
class StoredFile:
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


def short_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:10].upper()


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


class WorkspaceState:
    """The workspace's members and channels, and the recordings tests read back.

    Starts with Slackbot, the bot user and the default channel. Every read returns copies.
    """

    def __init__(self) -> None:
        super().__init__()
        self.team_id = TEAM_ID
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self._lock = threading.RLock()
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
        self._files: dict[str, StoredFile] = {}
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self.add_users([SLACKBOT, self._bot_user()])
        self.add_channel(DEFAULT_CHANNEL_ID, DEFAULT_CHANNEL_NAME)

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
        return "D" + short_hash(user_id)

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

    # ------------------------------------------------------------------ bookkeeping

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
