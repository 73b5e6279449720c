"""Programme settings: environment defaults, overridden per workspace by owners.

`effective_settings` is what every use case reads; `update_settings` is the one writer and
records each change in the audit log.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.models import AuditEntry, WorkspaceSetting

if TYPE_CHECKING:
    from bot.services import Unit


@dataclass(frozen=True)
class ProgrammeSettings:
    kudos_channel: str | None
    kudos_values: tuple[str, ...]
    kudos_daily_cap: int
    kudos_reason_max: int
    reaction_kudos: bool
    reaction_emoji: str
    analysis_window_days: int
    min_group_size: int
    champion_channels: tuple[str, ...]
    quiet_hours: str
    poll_questions: tuple[str, ...]
    poll_schedule: tuple[str, ...]
    poll_sample_fraction: float
    poll_min_days_between: float
    poll_reminder_days: float
    poll_close_days: float
    digest_schedule: str
    nudge_schedule: str
    working_hours: str
    nudge_holdout: float

    @classmethod
    def defaults(cls, settings: Settings) -> ProgrammeSettings:
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})


def _coerce(template: Any, value: Any) -> Any:
    if isinstance(template, tuple):
        return tuple(value)
    return value


def effective_settings(session: Session, workspace_id: int, settings: Settings
                       ) -> ProgrammeSettings:
    base = ProgrammeSettings.defaults(settings)
    rows = session.scalars(
        select(WorkspaceSetting).where(WorkspaceSetting.workspace_id == workspace_id))
    known = {f.name for f in dataclasses.fields(ProgrammeSettings)}
    overrides = {r.key: _coerce(getattr(base, r.key), r.value) for r in rows if r.key in known}
    return dataclasses.replace(base, **overrides)


def update_settings(session: Session, workspace_id: int, actor: str,
                    changes: dict[str, Any]) -> dict[str, Any]:
    """Store ``changes`` (already validated) and audit them. Returns what actually changed."""
    known = {f.name for f in dataclasses.fields(ProgrammeSettings)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    existing = {r.key: r for r in session.scalars(
        select(WorkspaceSetting).where(WorkspaceSetting.workspace_id == workspace_id))}
    changed: dict[str, Any] = {}
    for key, value in changes.items():
        stored = list(value) if isinstance(value, tuple) else value
        row = existing.get(key)
        if row is None:
            session.add(WorkspaceSetting(workspace_id=workspace_id, key=key, value=stored))
        elif row.value == stored:
            continue
        else:
            row.value = stored
        changed[key] = stored
    if changed:
        session.add(AuditEntry(workspace_id=workspace_id, actor=actor, action="settings.update",
                               detail=changed))
    return changed


def current(uow: Unit) -> ProgrammeSettings:
    """The programme settings in force (a use case, for callers outside a unit of work)."""
    return uow.prefs
