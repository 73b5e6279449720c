"""Use cases of the bot. Each service takes its session, clock and Slack client as arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What handlers and jobs need, built once by `bot.app.create_app`."""

    settings: Settings
    sessions: sessionmaker[Session]
    client: WebClient
    clock: Callable[[], datetime] = system_clock
    team_id: str = ""
    workspace_id: int = 0
    extras: dict[str, object] = field(default_factory=dict)

    def is_owner(self, user_id: str) -> bool:
        return user_id in self.settings.owners
