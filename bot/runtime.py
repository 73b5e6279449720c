"""The running bot: the wiring, the Bolt app and the background work (scheduled jobs from
`bot.jobs`, the outbox sender, and finishing what a stopped process acknowledged) started
together, stopped together."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App

from bot import jobs
from bot.app import build_services, create_app, identify_workspace
from bot.config import Settings
from bot.services import Services, kudos

log = logging.getLogger(__name__)

# Poll jobs saved by earlier versions name this function; it now lives in bot.jobs.
scheduled_poll_round = jobs.scheduled_poll_round
#: Start-up attempts at finishing recorded `/kudos` requests (backing off up to 5 minutes).
RECOVERY_TRIES = 12


@dataclass
class Runtime:
    settings: Settings
    services: Services
    app: App
    scheduler: BackgroundScheduler | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start_background(self) -> None:
        """Start the scheduled jobs (`bot.jobs`), the outbox sender, and the finishing of
        any `/kudos` a stopped process acknowledged but did not finish."""
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
        self._finish_unfinished_kudos()

    def _finish_unfinished_kudos(self) -> None:
        """Finish, in the background, every `/kudos` a stopped process acknowledged but did
        not finish (recorded before this start; requests from now on are this process's)."""
        started = self.services.clock()

        def finish() -> None:
            delay = 5.0
            for _ in range(RECOVERY_TRIES):
                try:
                    if not kudos.finish_unfinished(self.services, started):
                        return
                except Exception:
                    log.exception("finishing recorded /kudos requests failed; retrying")
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, 300.0)
            log.error("some recorded /kudos requests are still unfinished; the next start "
                      "tries again")

        self._stopping.clear()
        threading.Thread(target=finish, name="peerpulse-kudos-recovery", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
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
