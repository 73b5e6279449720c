"""The running bot: services, Bolt app and background jobs started together, stopped together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_bolt import App

from bot import db
from bot.app import build_services, create_app
from bot.config import Settings
from bot.services import Services, polls
from bot.services.events import forget_old_events
from bot.services.outbox import OutboxSender, make_sender_client
from bot.services.roster import sync_roster
from bot.services.settings import effective_settings
from bot.services.workspace import ensure_workspace

log = logging.getLogger(__name__)

# Jobs in the persistent store are saved by reference, so they are module-level functions
# that find the running runtime here.
_ACTIVE: dict[str, Runtime] = {}
POLL_JOB_PREFIX = "poll-"


@dataclass
class Runtime:
    settings: Settings
    services: Services
    app: App
    scheduler: BackgroundScheduler | None = None
    sender: OutboxSender | None = None

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
        log.info("roster synced: %s", result.summary())

    def housekeeping(self) -> None:
        with db.transaction(self.services.sessions) as session:
            forget_old_events(session, self.services.clock())

    def open_poll_round(self, question: str) -> polls.RoundOpened:
        """A scheduled round: keyed by question and local day, so a double fire opens one."""
        now = self.services.clock()
        local_day = now.astimezone(ZoneInfo(self.settings.timezone)).date().isoformat()
        opened = polls.start_round(
            self.services.sessions, self.settings, self.services.workspace_id, question, now,
            trigger="schedule", round_key=f"schedule:{question}:{local_day}")
        log.info("poll round %s (%s): %d people asked, %d DMs queued", opened.round_id,
                 question, opened.asked, opened.queued)
        return opened

    def poll_maintenance(self) -> None:
        """Queue due reminders and close rounds past their time, logging response rates."""
        with db.transaction(self.services.sessions) as session:
            prog = effective_settings(session, self.services.workspace_id, self.settings)
            done = polls.remind_and_close(session, self.services.workspace_id,
                                          self.services.clock(), prog.min_group_size,
                                          prog.quiet_hours)
        if done.reminders:
            log.info("poll reminders queued: %d", done.reminders)
        for stats in done.closed:
            rate = "n/a" if stats.response_rate is None else f"{stats.response_rate:.0%}"
            log.info("poll round %s (%s) closed: %d asked, %d answered, response rate %s",
                     stats.round_id, stats.question, stats.asked, stats.answered, rate)

    def sync_poll_jobs(self) -> None:
        """Make the persistent cron jobs match the enabled questions and their cadence.

        A job whose trigger is unchanged is left alone, so a run missed while the bot was
        down still fires on start-up (within the misfire grace time).
        """
        sched = self.scheduler
        if sched is None:
            return
        with self.services.sessions() as session:
            prog = effective_settings(session, self.services.workspace_id, self.settings)
        try:
            wanted = polls.enabled_schedule(prog)
        except ValueError as exc:
            log.error("poll schedule not applied: %s", exc)
            return
        existing = {j.id: j for j in sched.get_jobs(jobstore="persistent")
                    if j.id.startswith(POLL_JOB_PREFIX)}
        for question, cadence in wanted.items():
            trigger = CronTrigger(day_of_week=cadence.day_of_week, hour=cadence.hour,
                                  minute=cadence.minute, timezone=self.settings.timezone)
            job_id = POLL_JOB_PREFIX + question
            job = existing.pop(job_id, None)
            if job is not None and str(job.trigger) == str(trigger):
                continue
            sched.add_job(
                "bot.runtime:scheduled_poll_round", trigger, args=[question], id=job_id,
                jobstore="persistent", replace_existing=True, coalesce=True,
                misfire_grace_time=6 * 3600, name=f"poll round: {question}")
            log.info("poll %s scheduled: %s %02d:%02d %s", question, cadence.day_of_week,
                     cadence.hour, cadence.minute, self.settings.timezone)
        for job_id in existing:
            sched.remove_job(job_id, jobstore="persistent")
            log.info("poll job %s removed (question disabled)", job_id)

    def start_sender(self) -> OutboxSender:
        """The one background DM sender, with its own client that never sleeps on a 429."""
        if self.sender is None:
            self.sender = OutboxSender(
                self.services.sessions,
                make_sender_client(self.settings.slack_bot_token, self.settings.slack_api_url),
                clock=self.services.clock,
                per_minute=self.settings.outbox_per_minute,
                channel_interval=self.settings.outbox_channel_interval,
                max_attempts=self.settings.outbox_max_attempts,
            )
            self.sender.start()
        return self.sender

    def start_background(self) -> None:
        """Start scheduled jobs (roster sync now and daily, housekeeping, poll rounds in the
        persistent job store, reminders and closing) and the DM sender."""
        if self.scheduler is not None:
            return
        engine = self.services.sessions.kw["bind"]
        sched = BackgroundScheduler(
            timezone=self.settings.timezone, daemon=True,
            jobstores={"default": MemoryJobStore(),
                       "persistent": SQLAlchemyJobStore(engine=engine)})
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
        sched.add_job(
            self.poll_maintenance, "interval", minutes=self.settings.poll_check_minutes,
            id="poll-maintenance", coalesce=True, max_instances=1)
        sched.add_job(self.sync_poll_jobs, "interval", minutes=5, id="poll-schedule-sync",
                      coalesce=True, max_instances=1)
        _ACTIVE["runtime"] = self
        sched.start()
        self.scheduler = sched
        self.sync_poll_jobs()
        self.start_sender()

    def stop(self) -> None:
        if self.sender is not None:
            self.sender.stop()
            self.sender = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if _ACTIVE.get("runtime") is self:
            del _ACTIVE["runtime"]


def scheduled_poll_round(question: str) -> None:
    """The persistent cron job of one poll question."""
    runtime = _ACTIVE.get("runtime")
    if runtime is None:
        log.warning("poll job for %s fired with no running bot; skipped", question)
        return
    runtime.open_poll_round(question)


def build_runtime(settings: Settings) -> Runtime:
    services = build_services(settings)
    app = create_app(settings, services)
    runtime = Runtime(settings=settings, services=services, app=app)
    runtime.identify_workspace()
    return runtime
