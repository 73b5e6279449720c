"""Use cases of the bot. Each service takes its session, clock and Slack client as arguments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings

if TYPE_CHECKING:
    from bot.models import Workspace
    from bot.services.settings import ProgrammeSettings


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

    def is_owner(self, user_id: str) -> bool:
        return user_id in self.settings.owners

    @contextmanager
    def unit(self) -> Iterator[Unit]:
        """One transaction with the workspace row and its effective programme settings."""
        from bot.db import transaction
        from bot.models import Workspace
        from bot.services.settings import effective_settings

        with transaction(self.sessions) as session:
            workspace = session.get(Workspace, self.workspace_id)
            if workspace is None:
                raise RuntimeError("workspace not identified yet (auth.test has not run)")
            prefs = effective_settings(session, workspace.id, self.settings)
            yield Unit(session, workspace, prefs, self.clock())


@dataclass
class Unit:
    session: Session
    workspace: Workspace
    prefs: ProgrammeSettings
    now: datetime
