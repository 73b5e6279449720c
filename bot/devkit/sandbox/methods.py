"""The Slack Web API methods the sandbox answers, the way Slack does: argument checks, cursor
pagination, ``ok: false`` errors with Slack's error names, and the scope each method needs."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.devkit.sandbox.blockkit import MAX_MESSAGE_BLOCKS, block_problems, view_problems
from bot.devkit.sandbox.oauth import Grant, default_tenants
from bot.devkit.sandbox.state import StoredFile, WorkspaceState, short_hash
from bot.devkit.workspace import APP_ID, BOT_USER_ID, TEAM_DOMAIN

# Scopes each method needs; only checked when the sandbox is given a scope list.
# conversations.history checks its own: the scope depends on the kind of channel read.
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

MAX_TEXT = 40_000


class ApiError(Exception):
    """A method's ``ok: false`` answer: Slack's error name and any extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


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
            raise ApiError(f"invalid_{name}") from exc
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
        raise ApiError("invalid_cursor") from exc


class WebApi(WorkspaceState):
    """The workspace with its Web API methods, by method name in ``_methods``.

    A method takes the request's parameters and returns the fields of an ``ok: true`` answer,
    or raises :class:`ApiError`; the server calls it with the workspace lock held.
    """

    max_page_size: int
    trigger_ttl: float | None

    def __init__(self) -> None:
        super().__init__()
        self.tenants = default_tenants()
        # The grant of the token being answered (None: the default token, which sees all);
        # set by the server with the workspace lock held, for the one call it answers.
        self._grant: Grant | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "auth.teams.list": self._auth_teams_list,
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

    @property
    def url(self) -> str:
        """Root URL of the server, without a trailing slash."""
        raise NotImplementedError  # the server knows where it listens

    # ------------------------------------------------------------------ lookups

    def _visible(self, user: Mapping[str, Any]) -> bool:
        """Whether the token being answered may see ``user``: an installation's token sees
        the members of its own workspace (or organisation) only."""
        grant = self._grant
        return grant is None or grant.teams is None or user.get("team_id") in grant.teams

    def _user(self, user_id: Any) -> dict[str, Any]:
        user = self._users.get(str(user_id or ""))
        if user is None or not self._visible(user):
            raise ApiError("user_not_found")
        return user

    def _conversation(self, channel: Any) -> dict[str, Any]:
        """A channel by id; a user id means the bot's DM with that user."""
        channel = str(channel or "")
        if channel in self._users:
            return self._open_dm([channel])
        found = self._channels.get(channel)
        if found is None:
            raise ApiError("channel_not_found")
        if found.get("is_im"):
            user = self._users.get(found["user"])
            if user is not None and user.get("deleted"):
                raise ApiError("user_disabled")  # (approximation)
        return found

    def _open_dm(self, user_ids: list[str]) -> dict[str, Any]:
        for uid in user_ids:
            user = self._user(uid)
            if user.get("deleted"):
                raise ApiError("user_disabled")
            if user.get("is_bot") and uid != BOT_USER_ID:
                raise ApiError("cannot_dm_bot")
        if len(user_ids) == 1:
            channel_id = self.dm_channel(user_ids[0])
        else:
            channel_id = "G" + short_hash(*sorted(user_ids))
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
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        # Triggers minted by SignedClient start with their issue time in milliseconds.
        issued = re.match(r"^(\d{13})\.", trigger)
        ttl = self.trigger_ttl
        if ttl is not None and issued and time.time() - int(issued.group(1)) / 1000 > ttl:
            raise ApiError("expired_trigger_id")

    # ------------------------------------------------------------------ methods

    def _api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"args": {k: v for k, v in params.items() if k != "token"}}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._grant is None:
            return {
                "url": f"https://{TEAM_DOMAIN}.slack.com/",
                "team": "PeerPulse Sandbox",
                "user": "peerpulse",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        return self.tenants.auth_test(self._grant, self.team_id)

    def _auth_teams_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """The workspaces an org-wide installation is authorised in (one for a team token)."""
        grant = self._grant
        ids = sorted(grant.teams) if grant is not None and grant.teams else [self.team_id]
        teams = self.tenants.teams
        return {"teams": [{"id": t, "name": teams.get(t, {}).get("name", t)} for t in ids],
                "response_metadata": {"next_cursor": ""}}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            limit = int(params.get("limit") or 0)
        except ValueError as exc:
            raise ApiError("invalid_limit") from exc
        page = min(limit or self.max_page_size, self.max_page_size, 1000)
        cursor = str(params.get("cursor") or "")
        start = _decode_cursor(cursor) if cursor else 0
        members = [u for u in self._users.values() if self._visible(u)]
        grant = self._grant
        if grant is not None and grant.is_enterprise_install:
            # An org token lists one workspace at a time.
            team = str(params.get("team_id") or "")
            if not team:
                raise ApiError("missing_argument")  # (approximation) of the error name
            if team not in (grant.teams or ()):
                raise ApiError("team_access_not_granted")
            members = [u for u in members if u.get("team_id") == team]
        elif params.get("team_id") and grant is not None and params["team_id"] != grant.team_id:
            raise ApiError("team_access_not_granted")
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
            if (email_address and self._visible(user)
                    and user.get("profile", {}).get("email", "").lower() == email_address):
                return {"user": copy.deepcopy(user)}
        raise ApiError("users_not_found")

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._usergroups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise ApiError("no_such_subteam")
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
                raise ApiError("users_list_not_supplied")
            if len(users) > 8:
                raise ApiError("too_many_users")
            channel = self._open_dm(users)
        if _truthy(params.get("return_im", False)):
            return {"channel": copy.deepcopy(channel)}
        return {"channel": {"id": channel["id"]}}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        return {"channel": copy.deepcopy(channel)}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(params.get("channel") or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        if not channel.get("is_channel"):
            raise ApiError("method_not_supported_for_channel_type")
        channel["is_member"] = True
        return {"channel": copy.deepcopy(channel)}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        needed = ("im:history" if channel.get("is_im") else "mpim:history"
                  if channel.get("is_mpim") else "groups:history"
                  if channel.get("is_private") else "channels:history")
        scopes = getattr(self, "scopes", None)
        if scopes is not None and needed not in scopes:  # the scope depends on the channel
            raise ApiError("missing_scope", needed=needed, provided=",".join(sorted(scopes)))
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
            raise ApiError("no_text")
        if blocks is not None:
            problems = block_problems(blocks, MAX_MESSAGE_BLOCKS)
            if problems:
                raise ApiError(
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
            raise ApiError("is_archived")
        if not channel.get("is_member"):
            raise ApiError("not_in_channel")
        return channel

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(params.get("channel"))
        content = self._message_content(params, required=True)
        ts = self._next_ts()
        message = {
            "type": "message",
            "channel": channel["id"],
            "ts": ts,
            "user": self._grant.bot_user_id if self._grant else self.bot_user_id,
            "bot_id": self._grant.bot_id if self._grant else self.bot_id,
            "app_id": APP_ID,
            "team": self._message_team(channel),
            **content,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self._messages.append(message)
        public = {k: v for k, v in message.items() if k != "channel"}
        return {"channel": channel["id"], "ts": ts, "message": copy.deepcopy(public)}

    def _message_team(self, channel: Mapping[str, Any]) -> str:
        grant = self._grant
        if grant is None:
            return self.team_id
        if grant.team_id is not None:
            return grant.team_id
        user = self._users.get(str(channel.get("user") or ""), {})
        return str(user.get("team_id") or grant.enterprise_id)

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        user = self._user(params.get("user"))
        if channel.get("is_im") and channel.get("user") != user["id"]:
            raise ApiError("user_not_in_channel")
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
        raise ApiError("message_not_found")

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find_message(params)
        content = self._message_content(params, required=False)
        if not content:
            raise ApiError("no_text")
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
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view"]},
            )
        problems = view_problems(view, home=home)
        if problems:
            raise ApiError(
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
            "hash": f"{int(time.time())}.{short_hash(view_id, json.dumps(view, sort_keys=True))}",
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
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
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
            raise ApiError("hash_conflict")
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
            raise ApiError("invalid_arguments")
        file_id = self._new_id("F")
        self._files[file_id] = StoredFile(
            id=file_id, filename=filename, length=length, alt_txt=params.get("alt_txt")
        )
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _json_param(params, "files")
        if not isinstance(entries, list) or not entries:
            raise ApiError("invalid_arguments")
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
                raise ApiError("file_not_found")  # (approximation)
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
        raise ApiError("method_deprecated")  # retired by Slack; use files_upload_v2
