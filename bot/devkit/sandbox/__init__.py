"""A local stand-in for the Slack Web API, used by the tests and by ``peerpulse demo``.

It owns a loopback HTTP server that answers the Web API methods PeerPulse uses the way
Slack does (token check, cursor pagination, ``ok: false`` errors, 429 with Retry-After),
serves the files_upload_v2 upload URLs and response_url endpoints, and records every call
and everything the bot posted so tests can assert on it.

Where Slack's exact behaviour is not documented the choice is marked "(approximation)".

- ``server``: :class:`SlackSandbox`, the HTTP server, request parsing and routing
- ``state``: the workspace (members, channels) and the recordings (messages, views, files, calls)
- ``methods``: the Web API methods; ``blockkit``: Block Kit limit checks
- ``faults``: injected failures, 429s and delays
"""

from bot.devkit.sandbox.server import SlackSandbox
from bot.devkit.sandbox.state import Call, wait_for
from bot.devkit.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_CHANNEL_NAME,
    SLACKBOT,
    TEAM_DOMAIN,
    TEAM_ID,
    base36,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_CHANNEL_NAME",
    "SLACKBOT",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "Call",
    "SlackSandbox",
    "base36",
    "wait_for",
]
