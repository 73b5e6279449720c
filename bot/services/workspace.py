"""Which workspace the bot serves, recorded once from `auth.test`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Workspace


def ensure_workspace(session: Session, team_id: str, name: str = "") -> Workspace:
    """Return the workspace row for ``team_id``, creating it on first sight."""
    ws = session.scalar(select(Workspace).where(Workspace.slack_team_id == team_id))
    if ws is None:
        ws = Workspace(slack_team_id=team_id, name=name or team_id)
        session.add(ws)
        session.flush()
    elif name and ws.name != name:
        ws.name = name
    return ws
