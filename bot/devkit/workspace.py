"""The one Slack workspace every devkit tool agrees on: its team, app and bot ids, its default
channel, Slackbot, and Slack-looking base-36 ids. Shared by the sandbox, the signed client and
the simulated organisation, so none of them needs to import another for these."""

from __future__ import annotations

from typing import Any

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_CHANNEL_NAME",
    "SLACKBOT",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "base36",
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
