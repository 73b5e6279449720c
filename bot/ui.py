"""Block Kit views and messages built from service data (words come from templates)."""

from __future__ import annotations

import json
from typing import Any

from bot.rendering import context, divider, header, render, section
from bot.services.kudos import MAX_RECIPIENTS, KudosHistory
from bot.services.settings import ProgrammeSettings

KUDOS_MODAL = "kudos_modal"


def kudos_modal(prefs: ProgrammeSettings, *, initial_users: list[str] | None = None,
                channel: str | None = None, message_ts: str | None = None) -> dict[str, Any]:
    """The kudos form: people picker, reason, value. Metadata remembers where it came from."""
    picker: dict[str, Any] = {"type": "multi_users_select", "action_id": "users",
                              "max_selected_items": MAX_RECIPIENTS,
                              "placeholder": {"type": "plain_text", "text": "Who helped you?"}}
    if initial_users:
        picker["initial_users"] = initial_users[:MAX_RECIPIENTS]
    blocks: list[dict[str, Any]] = [
        {"type": "input", "block_id": "recipients", "element": picker,
         "label": {"type": "plain_text", "text": "People"}},
        {"type": "input", "block_id": "reason",
         "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                     "max_length": prefs.kudos_reason_max,
                     "placeholder": {"type": "plain_text", "text": "What did they do?"}},
         "label": {"type": "plain_text", "text": "Reason"}},
    ]
    if prefs.kudos_values:
        blocks.append({
            "type": "input", "block_id": "value", "optional": True,
            "element": {"type": "static_select", "action_id": "choice",
                        "placeholder": {"type": "plain_text", "text": "Pick a value"},
                        "options": [{"text": {"type": "plain_text", "text": f"#{v}"[:75]},
                                     "value": v} for v in prefs.kudos_values[:100]]},
            "label": {"type": "plain_text", "text": "Value"}})
    meta = {k: v for k, v in {"channel": channel, "ts": message_ts}.items() if v}
    return {"type": "modal", "callback_id": KUDOS_MODAL,
            "title": {"type": "plain_text", "text": "Give kudos"},
            "submit": {"type": "plain_text", "text": "Send kudos"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps(meta), "blocks": blocks}


def read_kudos_modal(view: dict[str, Any]) -> tuple[list[str], str, str | None, dict[str, str]]:
    """(recipients, reason, value, metadata) from a submitted kudos modal."""
    values = (view.get("state") or {}).get("values") or {}
    users = list((values.get("recipients") or {}).get("users", {}).get("selected_users") or [])
    reason = str((values.get("reason") or {}).get("text", {}).get("value") or "")
    option = (values.get("value") or {}).get("choice", {}).get("selected_option") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    return users, reason, option.get("value"), meta if isinstance(meta, dict) else {}


def personal_home(history: KudosHistory, *, extra_blocks: list[dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """A person's own App Home: kudos received and given in the window."""
    blocks: list[dict[str, Any]] = [header("Your PeerPulse")]
    blocks.extend(extra_blocks or [])
    blocks.append(section(render("home_kudos_summary.j2", h=history)))
    for title, items, direction in (("Kudos you received", history.received, "from"),
                                    ("Kudos you gave", history.given, "to")):
        blocks.append(divider())
        blocks.append(section(f"*{title}*"))
        if not items:
            blocks.append(context(render("home_kudos_empty.j2", direction=direction)))
        for item in items:
            blocks.append(section(render("home_kudos_item.j2", item=item, direction=direction)))
    blocks.append(context(render("home_kudos_footer.j2")))
    return {"type": "home", "blocks": blocks[:100]}
