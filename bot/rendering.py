"""Rendering of everything the bot posts to Slack: one jinja Environment, templates in
`bot/templates/`, every interpolated value escaped for Slack (``&``, ``<``, ``>``).

Because escaping happens in ``finalize``, no template can forget it: user text can never
become ``<!channel>``, ``<!here>`` or a mention. Markup the bot means (``<@U123>``) is
written literally in the template around the escaped id.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


def escape_slack(text: object) -> str:
    """Escape the three characters Slack treats as control sequences.

    >>> escape_slack("<!channel> & <script>")
    '&lt;!channel&gt; &amp; &lt;script&gt;'
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, SlackMarkup):
        return str(value)
    return escape_slack(value)


class SlackMarkup(str):
    """Text already in Slack markup (built by the bot itself, never from user input)."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot", "templates"),
        autoescape=False,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["mention"] = lambda uid: SlackMarkup(f"<@{escape_slack(uid)}>")
    env.filters["channel"] = lambda cid: SlackMarkup(f"<#{escape_slack(cid)}>")
    env.filters["mentions"] = lambda ids: SlackMarkup(
        ", ".join(f"<@{escape_slack(u)}>" for u in ids))
    return env


def render(name: str, **context: Any) -> str:
    """Render ``bot/templates/<name>`` to Slack mrkdwn text."""
    return environment().get_template(name).render(**context).strip()


# Block Kit helpers: structure in code, words in templates.

def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def divider() -> dict[str, Any]:
    return {"type": "divider"}
