"""The running bot: the wiring, the Bolt app and the background work (scheduled jobs from
`bot.jobs` and the outbox sender) started together, stopped together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App

from bot import jobs
from bot.app import build_services, create_app, identify_workspace
from bot.config import Settings
from bot.services import Services

log = logging.getLogger(__name__)

# Poll jobs saved by earlier versions name this function; it now lives in bot.jobs.
scheduled_poll_round = jobs.scheduled_poll_round


@dataclass
class Runtime:
    settings: Settings
    services: Services
    app: App
    scheduler: BackgroundScheduler | None = None

    def start_background(self) -> None:
        """Start the scheduled jobs (`bot.jobs`) and the outbox sender."""
        if self.scheduler is not None:
            return
        engine = self.services.sessions.kw["bind"]
        sched = BackgroundScheduler(
            timezone=self.settings.timezone, daemon=True,
            jobstores={"default": MemoryJobStore(),
                       jobs.PERSISTENT: SQLAlchemyJobStore(engine=engine)})
        jobs.register(sched, self.services)
        sched.start()
        self.scheduler = sched
        jobs.sync_poll_jobs(sched, self.services)
        if self.services.delivery is not None:
            self.services.delivery.start()

    def stop(self) -> None:
        if self.services.delivery is not None:
            self.services.delivery.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        jobs.unregister(self.services)


def build_runtime(settings: Settings) -> Runtime:
    """Wire everything, learn the workspace from Slack (`auth.test`), build the app."""
    services = build_services(settings)
    identify_workspace(services)
    return Runtime(settings=settings, services=services, app=create_app(settings, services))
