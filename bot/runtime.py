"""The running bot: services, Bolt app and background jobs started together, stopped together."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App

from bot import db
from bot.app import build_services, create_app
from bot.config import Settings
from bot.services import Services
from bot.services.events import forget_old_events
from bot.services.roster import sync_roster
from bot.services.workspace import ensure_workspace

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    services: Services
    app: App
    scheduler: BackgroundScheduler | None = None
    roster_synced: threading.Event = field(default_factory=threading.Event)

    def identify_workspace(self) -> None:
        """Ask Slack who we are (`auth.test`) and record the workspace."""
        auth = self.services.client.auth_test()
        team_id = str(auth.get("team_id") or "")
        with db.transaction(self.services.sessions) as session:
            ws = ensure_workspace(session, team_id, str(auth.get("team") or ""))
            self.services.team_id, self.services.workspace_id = team_id, ws.id
        log.info("serving workspace %s (%s)", auth.get("team"), team_id)

    def sync_roster_now(self) -> None:
        with db.transaction(self.services.sessions) as session:
            from bot.models import Workspace

            ws = session.get(Workspace, self.services.workspace_id)
            assert ws is not None
            result = sync_roster(session, self.services.client, ws, now=self.services.clock())
        self.roster_synced.set()
        log.info("roster synced: %s", result.summary())

    def housekeeping(self) -> None:
        with db.transaction(self.services.sessions) as session:
            forget_old_events(session, self.services.clock())

    def start_background(self) -> None:
        """Start scheduled jobs: a roster sync now and every day, event-id housekeeping."""
        if self.scheduler is not None:
            return
        sched = BackgroundScheduler(timezone=self.settings.timezone, daemon=True)
        sched.add_job(
            self.sync_roster_now, "date", id="roster-sync-startup", misfire_grace_time=None
        )
        sched.add_job(
            self.sync_roster_now,
            "cron",
            hour=self.settings.roster_sync_hour,
            id="roster-sync-daily",
            coalesce=True,
            misfire_grace_time=3600,
        )
        sched.add_job(
            self.housekeeping, "cron", hour=4, minute=30, id="housekeeping", coalesce=True
        )
        sched.start()
        self.scheduler = sched

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None


def build_runtime(settings: Settings) -> Runtime:
    services = build_services(settings)
    app = create_app(settings, services)
    runtime = Runtime(settings=settings, services=services, app=app)
    runtime.identify_workspace()
    return runtime
