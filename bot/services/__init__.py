"""Use cases of the bot, all of one shape: ``use_case(uow, ...) -> plain result``.

A use case takes a `Unit` first: one transaction and every collaborator it may need (the
session, the workspace, the programme settings in force, the clock reading, the Slack
client, the process settings, and the outbox through `Unit.send`), then its own
arguments, and returns plain data. It never commits, opens sessions or posts messages
itself. `Services` is the wiring, built once by the composition root
(`bot.app.build_services`) and shared by the Bolt listeners, the scheduled jobs
(`bot.jobs`), every CLI command and the demo; `Services.call` is the one transaction idiom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.errors import PeerPulseError

if TYPE_CHECKING:
    from bot.install import Installs
    from bot.models import Workspace
    from bot.services.delivery import Delivery, DeliveryReport
    from bot.services.outbox import Outgoing
    from bot.services.settings import ProgrammeSettings, SettingsCache

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., object])


def one_statement(use_case: F) -> F:
    """Mark a use case that runs exactly one statement, atomic by itself (an INSERT .. ON
    CONFLICT, an UPDATE, a DELETE). On PostgreSQL `Services.call` runs it in autocommit:
    one round trip instead of BEGIN, the statement and COMMIT. A use case that may run a
    second statement must not be marked (the two would not commit together)."""
    use_case.one_statement = True  # type: ignore[attr-defined]
    return use_case


def system_clock() -> datetime:
    return datetime.now(UTC)


class WorkspaceUnknown(PeerPulseError):
    """No workspace is recorded yet, or several and none was chosen."""


@dataclass
class Unit:
    """One unit of work: a transaction and the collaborators a use case may need.

    ``workspace_id`` is the tenant every query is scoped by; ``workspace``, its row, and
    ``prefs``, the programme settings in force, are read in this transaction the first time
    a use case asks for them (many only need the id).
    """

    session: Session
    workspace_id: int
    now: datetime
    settings: Settings
    slack: WebClient
    queued: list[str] = field(default_factory=list)
    _workspace: Workspace | None = field(default=None, repr=False)
    _prefs: ProgrammeSettings | None = field(default=None, repr=False)
    _prefs_source: SettingsCache | None = field(default=None, repr=False)

    @property
    def prefs(self) -> ProgrammeSettings:
        """The programme settings in force, read fresh in this transaction on first use."""
        if self._prefs is None:
            from bot.services.settings import SettingsCache

            source = self._prefs_source or SettingsCache(self.settings)
            found = source.read(self.session, self.workspace_id)
            if found is None:
                raise WorkspaceUnknown("the workspace is no longer recorded")
            self._prefs = found
        return self._prefs

    @property
    def workspace(self) -> Workspace:
        """The tenant's row, attached to this unit's session (fresh, and writable)."""
        if self._workspace is None:
            from bot.models import Workspace

            found = self.session.get(Workspace, self.workspace_id)
            if found is None:
                raise WorkspaceUnknown("the workspace is no longer recorded")
            self._workspace = found
        return self._workspace

    def send(self, messages: Iterable[Outgoing]) -> list[str]:
        """Queue messages in the outbox inside this transaction: they are committed with
        the data they announce, or not at all. Returns their keys (`Services.deliver_now`
        posts them at once; otherwise the background sender does)."""
        from bot.services.outbox import enqueue

        batch = list(messages)
        enqueue(self.session, self.workspace_id, batch, self.now)
        keys = [m.key for m in batch]
        self.queued.extend(keys)
        return keys

    def is_owner(self, user_id: str) -> bool:
        return user_id in self.settings.owners


@dataclass
class Services:
    """The wiring every entry point shares, bound to one tenant (``workspace_id``) and its
    Slack ``client``.

    With one bot token the tenant is learned once at start-up (`auth.test` in the runtime,
    the stored workspace in the CLI). With installs through OAuth each request, job and CLI
    command gets its own bound copy (`bound`, `tenants`): the process-wide object serves no
    tenant itself. ``installs`` (None: the one token) holds each installed tenant's token.
    """

    settings: Settings
    sessions: sessionmaker[Session]
    client: WebClient
    clock: Callable[[], datetime] = system_clock
    delivery: Delivery | None = None
    team_id: str = ""
    workspace_id: int = 0
    installs: Installs | None = None
    # Shared by every bound copy (`bound` copies the reference); built on first use.
    _prefs_cache: list[SettingsCache] = field(default_factory=list, repr=False)

    def bound(self, workspace_id: int, team_id: str, client: WebClient | None = None
              ) -> Services:
        """A copy serving the tenant ``workspace_id`` with ``client`` (default: this one's)."""
        return replace(self, workspace_id=workspace_id, team_id=team_id,
                       client=client or self.client)

    def tenants(self, *, inactive: bool = False) -> list[Services]:
        """One bound copy per active tenant that has a Slack client: what the scheduled
        jobs run for. With one bot token, the workspace learned at start-up.
        ``inactive``: uninstalled tenants too (without a usable client), for the jobs that
        only tidy stored data (the retention purge)."""
        from sqlalchemy import select

        from bot.models import Workspace

        if self.installs is None:
            if not self.workspace_id:
                return []
            with self.sessions() as session:
                ws = session.get(Workspace, self.workspace_id)
                return [self] if ws is not None and (ws.active or inactive) else []
        with self.sessions() as session:
            rows = list(session.scalars(select(Workspace).order_by(Workspace.id)))
        found = []
        for ws in rows:
            client = self.installs.client_for(ws) if ws.active else None
            if client is not None or inactive:
                found.append(self.bound(ws.id, ws.slack_team_id, client))
        return found

    def is_owner(self, user_id: str) -> bool:
        return user_id in self.settings.owners

    @contextmanager
    def unit(self, *, autocommit: bool = False) -> Iterator[Unit]:
        """One transaction (commit on success, roll back on error) with its workspace row
        and effective programme settings. ``autocommit``: for a use case of one statement
        (`one_statement`), on PostgreSQL each statement commits by itself."""
        from bot.db import on_postgresql, transaction

        cache = self._settings_cache()
        with transaction(self.sessions) as session:
            if autocommit and on_postgresql(self.sessions):
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            uow = Unit(session, self.workspace_id, self.clock(), self.settings, self.client,
                       _prefs_source=cache)
            if self.workspace_id not in cache.workspaces:
                # Not seen in this process yet: make sure it exists (workspace rows are
                # never deleted, so once is enough), reading its settings on the way.
                uow._prefs = cache.read(session, self.workspace_id)
                if uow._prefs is None:
                    raise WorkspaceUnknown(
                        "no workspace recorded yet: start the bot once (peerpulse run) so "
                        "it learns its workspace and syncs the roster")
            yield uow

    def _settings_cache(self) -> SettingsCache:
        if not self._prefs_cache or self._prefs_cache[0].settings is not self.settings:
            from bot.services.settings import SettingsCache

            self._prefs_cache[:] = [SettingsCache(self.settings)]
        return self._prefs_cache[0]

    def call(self, use_case: Callable[Concatenate[Unit, P], R], *args: P.args,
             **kwargs: P.kwargs) -> R:
        """Run ``use_case`` in one unit of work and return its result."""
        with self.unit(autocommit=getattr(use_case, "one_statement", False)) as uow:
            return use_case(uow, *args, **kwargs)

    def deliver_now(self, keys: Iterable[str]) -> DeliveryReport:
        """Post queued messages at once (someone is waiting); see `bot.services.delivery`."""
        from bot.services.delivery import DeliveryReport

        keys = list(keys)
        if self.delivery is None:
            return DeliveryReport.queued(keys)
        return self.delivery.deliver_now(keys)

    def send_now(self, messages: Iterable[Outgoing]) -> DeliveryReport:
        """Queue ``messages`` in their own unit of work, then post them at once."""
        batch = list(messages)
        with self.unit() as uow:
            keys = uow.send(batch)
        return self.deliver_now(keys)

    def uninstall(self) -> bool:
        """This tenant uninstalled the app (or revoked its token): its tokens are forgotten
        and it is marked inactive; its data stays under the retention rules."""
        from bot.services.workspace import deactivate

        if self.installs is not None:
            return self.installs.uninstall(self.workspace_id, now=self.clock())
        return deactivate(self.sessions, self.workspace_id, now=self.clock())

    def use_stored_workspace(self, team: str | None = None) -> Services:
        """Serve the workspace already recorded (for CLI commands, which run without
        `auth.test`); ``team`` picks one when several are stored."""
        from sqlalchemy import select

        from bot.models import Workspace

        with self.sessions() as session:
            found = list(session.scalars(select(Workspace).order_by(Workspace.id)))
        if team:
            found = [w for w in found if w.slack_team_id == team]
        if not found:
            raise WorkspaceUnknown(
                "no workspace recorded yet: start the bot once (peerpulse run) so it "
                "learns its workspace and syncs the roster")
        if len(found) > 1:
            ids = ", ".join(w.slack_team_id for w in found)
            raise WorkspaceUnknown(f"several workspaces ({ids}): choose one with --team")
        self.team_id, self.workspace_id = found[0].slack_team_id, found[0].id
        if self.installs is not None:
            self.client = self.installs.client_for(found[0]) or self.client
        return self
