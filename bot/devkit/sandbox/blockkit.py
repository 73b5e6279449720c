"""The Block Kit limits the sandbox checks on messages, modals and App Home views: the subset
Slack enforces that PeerPulse could plausibly break, worded the way Slack words them."""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def block_problems(blocks: Any, limit: int) -> list[str]:
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


def view_problems(view: dict[str, Any], *, home: bool = False) -> list[str]:
    """What is wrong with a modal (or, with ``home``, an App Home view), blocks included."""
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
        for p in block_problems(view.get("blocks", []), MAX_VIEW_BLOCKS)
    ]
    return problems
