"""The one delivery path: every message and file the bot sends goes through the outbox.

Use cases queue with `bot.services.Unit.send`, in their own transaction, so a stored tie
and the DM that announces it commit together. `Delivery` then posts them: its background
sender (started by the runtime) for everything, and `Delivery.deliver_now` for a reply a
person is waiting for (kudos DMs and the kudos channel post, snapshot and export files),
which posts those rows at once and leaves any failure to the background sender, so a
Slack outage delays a message instead of losing it.

What stays outside the outbox, on purpose: answers to the person who made a request
(`respond`, `chat.postEphemeral`), modals and App Home views, and `chat.update` of a
message in place: they are part of a request, not messages of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.services.outbox import (
    EXPIRED,
    FAILED,
    OutboxSender,
    Outgoing,
    SendReport,
    make_sender_client,
)

__all__ = ["Delivery", "DeliveryReport", "Outgoing", "file_message", "message_key"]

#: Seconds a waiting person's messages may take (retries within it are made at once).
DELIVER_NOW_BUDGET = 10.0
_KEY_MAX = 191


def message_key(*parts: object) -> str:
    """An outbox idempotency key from its parts, hashed down when it would be too long.

    >>> message_key("kudos-dm", "kudos:T1:U2")
    'kudos-dm:kudos:T1:U2'
    >>> len(message_key("x", "y" * 400))
    191
    """
    import hashlib

    key = ":".join(str(p) for p in parts)
    if len(key) <= _KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:_KEY_MAX - len(digest) - 1]}~{digest}"


def file_message(key: str, user: str, paths: Iterable[object], comment: str) -> Outgoing:
    """Files for ``user``'s DM with PeerPulse, uploaded with ``comment``."""
    return Outgoing(key=key, channel=user, text=comment, files=tuple(str(p) for p in paths))


@dataclass(frozen=True)
class DeliveryReport:
    """What happened to the messages a person is waiting for."""

    sent: dict[str, str | None] = field(default_factory=dict)  # key -> ts
    waiting: list[str] = field(default_factory=list)  # still queued: the sender retries
    failed: dict[str, str] = field(default_factory=dict)  # key -> error, for good

    @classmethod
    def queued(cls, keys: Iterable[str]) -> DeliveryReport:
        return cls(waiting=list(keys))

    def ok(self, key: str) -> bool:
        return key in self.sent

    @property
    def undelivered(self) -> list[str]:
        return self.waiting + list(self.failed)


class Delivery:
    """The outbox sender of this process, in the background and on demand."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], datetime],
                 clients: Callable[[int], WebClient | None] | None = None) -> None:
        """``clients``: each tenant's sending client by workspace id (installs through
        OAuth); None sends everything with SLACK_BOT_TOKEN."""
        self.sender = OutboxSender(
            sessions, make_sender_client(settings.slack_bot_token, settings.slack_api_url),
            clock=clock, per_minute=settings.outbox_per_minute,
            channel_interval=settings.outbox_channel_interval,
            max_attempts=settings.outbox_max_attempts, clients=clients,
            lease=timedelta(seconds=settings.outbox_lease_seconds))

    def start(self) -> None:
        """Send in the background (recovering rows a stopped process left mid-send)."""
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()

    def drain(self, timeout: float) -> SendReport:
        """Send everything due, here, until nothing is left or ``timeout`` passes."""
        return self.sender.drain(timeout=timeout)

    def deliver_now(self, keys: Iterable[str], budget: float = DELIVER_NOW_BUDGET
                    ) -> DeliveryReport:
        """Post these queued messages now, in order; whatever Slack refuses for the moment
        stays queued for the background sender."""
        keys = list(keys)
        states = self.sender.send_keys(keys, budget)
        report = DeliveryReport()
        for key in keys:
            state = states.get(key)
            if state is None:
                continue
            if state.sent:
                report.sent[key] = state.ts
            elif state.status in (FAILED, EXPIRED):
                report.failed[key] = state.error or "failed"
            else:
                report.waiting.append(key)
        return report
