"""Which tenants the bot serves: the workspace it learns from `auth.test` (one bot token),
or each workspace or Enterprise Grid organisation that installs it (OAuth, `bot.install`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Workspace

log = logging.getLogger(__name__)


def ensure_workspace(session: Session, team_id: str, name: str = "") -> Workspace:
    """Return the workspace row for ``team_id``, creating it on first sight."""
    return ensure_tenant(session, team_id, name)


def ensure_tenant(session: Session, key: str, name: str = "", *,
                  enterprise_id: str | None = None, org_wide: bool = False,
                  reactivate: bool = False) -> Workspace:
    """The tenant row for ``key`` (a team id, or the enterprise id of an org-wide install),
    created on first sight; ``reactivate`` (an install) marks an uninstalled one active."""
    ws = session.scalar(select(Workspace).where(Workspace.slack_team_id == key))
    if ws is None:
        ws = Workspace(slack_team_id=key, name=name or key, enterprise_id=enterprise_id,
                       is_enterprise_install=org_wide, active=True)
        session.add(ws)
        session.flush()
        return ws
    if name and ws.name != name:
        ws.name = name
    if enterprise_id and ws.enterprise_id != enterprise_id:
        ws.enterprise_id = enterprise_id
    if reactivate and not ws.active:
        ws.active, ws.uninstalled_at = True, None
    return ws


def deactivate(sessions: sessionmaker[Session], workspace_id: int, *,
               now: datetime | None = None) -> bool:
    """The app was uninstalled (or its token revoked): mark the tenant inactive, so no job
    runs for it and nothing is sent to it. Its data is kept, and aged out by the retention
    purge as usual. True when it was active."""
    from bot.db import transaction

    with transaction(sessions) as session:
        ws = session.get(Workspace, workspace_id)
        if ws is None or not ws.active:
            return False
        ws.active = False
        ws.uninstalled_at = now or datetime.now(UTC)
        key = ws.slack_team_id
    log.info("uninstalled from %s: tenant marked inactive, its data kept", key)
    return True
