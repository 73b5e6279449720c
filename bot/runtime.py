"""The running bot: the wiring, the Bolt app and the background work (the outbox sender in
every process; scheduled jobs from `bot.jobs` and finishing what a stopped process
acknowledged in the leader only, `bot.leader`) started together, stopped together."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from sqlalchemy.engine import Engine

import handlers
from bot import jobs
from bot.app import build_services, create_app, identify_workspace
from bot.config import Settings
from bot.leader import Leadership, is_postgresql, oldest_live_start
from bot.services import Services, kudos

log = logging.getLogger(__name__)

# Poll jobs saved by earlier versions name this function; it now lives in bot.jobs.
scheduled_poll_round = jobs.scheduled_poll_round
#: Start-up attempts at finishing recorded `/kudos` requests (backing off up to 5 minutes).
RECOVERY_TRIES = 12
#: Replicas: a recorded `/kudos` this old is no longer being carried out by a live replica
#: (that takes seconds), so the leader finishes it; it looks this often.
KUDOS_GRACE = timedelta(minutes=2)
KUDOS_RECOVERY_EVERY = timedelta(seconds=30)


@dataclass
class Runtime:
    settings: Settings
    services: Services
    app: App
    followups: handlers.Followups | None = None
    scheduler: BackgroundScheduler | None = None
    leadership: Leadership | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _term: threading.Event = field(default_factory=threading.Event)
    _started: datetime | None = None

    @property
    def engine(self) -> Engine:
        engine = self.services.sessions.kw["bind"]
        assert isinstance(engine, Engine)
        return engine

    def start_background(self) -> None:
        """Start the outbox sender and contend for leadership (`bot.leader`): the leader
        runs the scheduled jobs (`bot.jobs`) and finishes any `/kudos` a stopped process
        acknowledged but did not finish."""
        if self.leadership is not None:
            return
        self._started = self.services.clock()
        self._stopping.clear()
        if self.services.delivery is not None:
            self.services.delivery.start()
        self.leadership = Leadership(self.engine, on_elected=self._lead,
                                     on_deposed=self._step_down,
                                     retry=self.settings.leader_retry_seconds)
        self.leadership.start()

    def _lead(self) -> None:
        """Elected: run the scheduler and the `/kudos` recovery until deposed."""
        assert self.leadership is not None
        since = self.services.clock()
        sched = BackgroundScheduler(
            timezone=self.settings.timezone, daemon=True,
            executors={"default": jobs.OnceExecutor(self.engine, self.leadership.name,
                                                    since)},
            jobstores={"default": MemoryJobStore(),
                       jobs.PERSISTENT: SQLAlchemyJobStore(engine=self.engine)})
        jobs.register(sched, self.services)
        sched.start()
        self.scheduler = sched
        jobs.sync_poll_jobs(sched, self.services)
        self._term = threading.Event()
        self._finish_unfinished_kudos(self._term)

    def _step_down(self) -> None:
        self._term.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        jobs.unregister(self.services)

    def _finish_unfinished_kudos(self, term: threading.Event) -> None:
        """Finish, in the background, every `/kudos` a stopped process acknowledged but did
        not finish.

        One process (SQLite): those recorded before this start, tried until done. Replicas
        (PostgreSQL): the leader looks every `KUDOS_RECOVERY_EVERY` for requests recorded
        before the longest-running live process started (`bot.leader:oldest_live_start`)
        or older than `KUDOS_GRACE`, so a request a live replica is carrying out right now
        is left to it, and one whose replica died is finished by the leader.
        """
        replicas = is_postgresql(self.engine)
        started = self._started or self.services.clock()

        def cutoff() -> datetime:
            if not replicas:
                return started
            # Recorded before every live process started: its own process has stopped.
            # Else only once older than KUDOS_GRACE (its process may have died since).
            floor = self.services.clock() - KUDOS_GRACE
            oldest = oldest_live_start(self.engine)
            return floor if oldest is None else max(floor, oldest)

        def finish() -> None:
            delay, tries = 5.0, 0
            while not (term.is_set() or self._stopping.is_set()):
                left = 0
                try:
                    left = kudos.finish_unfinished(self.services, cutoff())
                except Exception:
                    left = 1
                    log.exception("finishing recorded /kudos requests failed; retrying")
                if left:
                    tries += 1
                    if tries >= RECOVERY_TRIES and not replicas:
                        log.error("some recorded /kudos requests are still unfinished; the "
                                  "next start tries again")
                        return
                    wait, delay = delay, min(delay * 2, 300.0)
                elif not replicas:
                    return
                else:
                    wait, delay, tries = KUDOS_RECOVERY_EVERY.total_seconds(), 5.0, 0
                if term.wait(wait) or self._stopping.is_set():
                    return

        threading.Thread(target=finish, name="peerpulse-kudos-recovery", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self.followups is not None:
            self.followups.stop()  # work acknowledged already: finish it first
        if self.services.delivery is not None:
            self.services.delivery.stop()
        if self.leadership is not None:
            self.leadership.stop()
            self.leadership = None
        self._step_down()


def build_runtime(settings: Settings) -> Runtime:
    """Wire everything, learn the workspace from Slack (`auth.test`), build the app."""
    services = build_services(settings)
    identify_workspace(services)
    followups = handlers.Followups()
    return Runtime(settings=settings, services=services,
                   app=create_app(settings, services, followups), followups=followups)
