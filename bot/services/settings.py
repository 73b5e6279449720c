"""Programme settings: environment defaults, overridden per workspace by owners.

`effective_settings` is what every use case reads; `update_settings` is the one writer and
records each change in the audit log.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.models import AuditEntry, Workspace, WorkspaceSetting

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


# The workspace's id and its stored settings as text, in one statement built once: a row
# with NULL key when nothing is overridden, no row when the workspace is not recorded.
_STORED = (select(Workspace.id, WorkspaceSetting.key, cast(WorkspaceSetting.value, Text))
           .outerjoin(WorkspaceSetting, WorkspaceSetting.workspace_id == Workspace.id)
           .where(Workspace.id == bindparam("workspace_id"))
           .order_by(WorkspaceSetting.key))


class SettingsCache:
    """The programme settings in force, read fresh in every unit of work but computed once
    per distinct set of stored overrides (shared by a process's `Services` copies).

    Every unit reads the workspace's stored settings (one small query of plain rows), so a
    change is seen by the very next unit in this process and in every other process: no
    expiry to wait for, nothing to invalidate. What is saved is the rest: the defaults from
    the environment, the JSON decoding and the dataclass built on every call.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known = frozenset(f.name for f in dataclasses.fields(ProgrammeSettings))
        self._base = ProgrammeSettings.defaults(settings)
        self._computed: dict[tuple[tuple[str, str], ...], ProgrammeSettings] = {}
        self._lock = threading.Lock()
        #: Workspaces found recorded (`Services.unit` checks a workspace once per process).
        self.workspaces: set[int] = set()

    def read(self, session: Session, workspace_id: int) -> ProgrammeSettings | None:
        """The settings in force for ``workspace_id``; None when it is not recorded."""
        rows = session.execute(_STORED, {"workspace_id": workspace_id}).all()
        if not rows:
            return None
        self.workspaces.add(workspace_id)
        stored = tuple((key, text) for _, key, text in rows if key is not None)
        found = self._computed.get(stored)
        if found is None:
            overrides = {key: _coerce(getattr(self._base, key),
                                      None if text is None else json.loads(text))
                         for key, text in stored if key in self._known}
            found = dataclasses.replace(self._base, **overrides)
            with self._lock:
                if len(self._computed) >= 64:  # settings changed many times: start afresh
                    self._computed.clear()
                self._computed[stored] = found
        return found


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
