"""Everything scheduled, in one place: roster sync, housekeeping, the retention purge,
poll rounds, reminders and closing, champion digests and nudges. Each job is one use case
run through `Services.call`; `register` adds them all to the runtime's scheduler.

Poll rounds live in the persistent job store (a run missed while the bot was down still
fires on start-up) and are saved by reference, so their function is module-level and
finds the running services in ``_ACTIVE``.

Only the leader (`bot.leader`) runs a scheduler, and `OnceExecutor` claims every run in
the database first, so a run fired by two schedulers (a takeover right at a fire time)
still happens once. Interval jobs are aligned on a fixed origin, so every scheduler
gives a run the same fire time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job as ScheduledJob
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from bot.leader import claim_run
from bot.services import Services, champions, events, polls, retention, roster
from bot.services import settings as programme

log = logging.getLogger(__name__)

POLL_JOB_PREFIX = "poll-"
PERSISTENT = "persistent"
#: Interval jobs fire on this grid (every replica computes the same fire times).
INTERVAL_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
_ACTIVE: dict[str, Services] = {}
R = TypeVar("R")


def for_each_tenant(run: Callable[[Services], R], *, inactive: bool = False
                    ) -> Callable[[Services], R | None]:
    """``run`` once per active tenant (``inactive``: uninstalled ones too), each with its own
    services and Slack client; one tenant's failure is logged and the others still run.
    With one bot token: ``run`` for the one workspace, as before, its result returned
    (nothing while that workspace has uninstalled the app)."""
    def every(services: Services) -> R | None:
        if services.installs is None:
            return run(services) if services.tenants(inactive=inactive) else None
        for tenant in services.tenants(inactive=inactive):
            try:
                run(tenant)
            except Exception:
                log.exception("%s failed for %s", getattr(run, "__name__", "job"),
                              tenant.team_id)
        return None
    every.__name__ = getattr(run, "__name__", "job")
    return every


def sync_roster(services: Services) -> None:
    result = services.call(roster.sync)
    log.info("roster synced: %s", result.summary())


def housekeeping(services: Services) -> None:
    forgotten = services.call(events.housekeeping)
    if forgotten:
        log.info("housekeeping: %d old event id(s) forgotten", forgotten)


def retention_purge(services: Services) -> retention.Purged:
    """Delete what is older than its retention period (PRIVACY.md)."""
    purged = services.call(retention.purge)
    if purged.total:
        log.info("retention purge: %s", purged.summary())
    return purged


def poll_round(services: Services, question: str) -> polls.RoundOpened | None:
    try:
        opened = services.call(polls.scheduled_round, question)
    except polls.NobodyToAsk as nobody:
        log.info("poll round (%s) not opened: %s", question, nobody)
        return None
    log.info("poll round %s (%s): %d people asked, %d DMs queued", opened.round_id,
             question, opened.asked, opened.queued)
    return opened


def poll_maintenance(services: Services) -> None:
    """Queue due reminders and close rounds past their time, logging response rates."""
    done = services.call(polls.maintenance)
    if done.reminders:
        log.info("poll reminders queued: %d", done.reminders)
    for stats in done.closed:
        rate = "n/a" if stats.response_rate is None else f"{stats.response_rate:.0%}"
        log.info("poll round %s (%s) closed: %d asked, %d answered, response rate %s",
                 stats.round_id, stats.question, stats.asked, stats.answered, rate)


def champions_tick(services: Services) -> None:
    """Champions: follow the Slack user group (when set), then post this period's digest
    and send this period's nudges once their scheduled moment has passed. Every decision is
    stored, so running this often (and at start-up) never sends anything twice."""
    synced = services.call(champions.sync_champion_group)
    if synced is not None and (synced.added or synced.removed):
        log.info("champions from user group %s: %d added, %d removed", synced.group,
                 len(synced.added), len(synced.removed))
    digest = services.call(champions.scheduled_digest)
    if digest is not None:
        log.info("champion digest %s queued for %d channel(s)", digest.period,
                 len(digest.queued))
    plans = services.call(champions.scheduled_nudges)
    sent = [p for p in plans if p.action == "send" and p.outbox_key]
    if plans:
        log.info("champion nudges: %d queued, %d skipped", len(sent), len(plans) - len(sent))


def scheduled_poll_round(question: str, workspace_id: int | None = None) -> None:
    """The persistent cron job of one poll question (saved by reference); with installs
    through OAuth, of one tenant (``workspace_id``)."""
    services = _ACTIVE.get("services")
    if services is None:
        log.warning("poll job for %s fired with no running bot; skipped", question)
        return
    if workspace_id is not None:
        services = next((t for t in services.tenants() if t.workspace_id == workspace_id),
                        None)
        if services is None:
            log.info("poll job for %s skipped: tenant %s is not installed", question,
                     workspace_id)
            return
    poll_round(services, question)


def _poll_job_prefix(services: Services) -> str:
    """One bot token: ``poll-<question>``; installs through OAuth: per tenant."""
    return POLL_JOB_PREFIX if services.installs is None else (
        f"{POLL_JOB_PREFIX}{services.workspace_id}-")


def sync_poll_jobs(scheduler: BaseScheduler, services: Services) -> None:
    """Make the persistent cron jobs match each active tenant's enabled questions and
    their cadence; an uninstalled tenant's jobs are removed.

    A job whose trigger is unchanged is left alone, so a run missed while the bot was
    down still fires on start-up (within the misfire grace time).
    """
    kept: set[str] = set()
    for tenant in services.tenants():
        kept |= _sync_tenant_poll_jobs(scheduler, tenant)
    if services.installs is not None:
        for job in scheduler.get_jobs(jobstore=PERSISTENT):
            if job.id.startswith(POLL_JOB_PREFIX) and job.id not in kept:
                scheduler.remove_job(job.id, jobstore=PERSISTENT)
                log.info("poll job %s removed (tenant uninstalled)", job.id)


def _sync_tenant_poll_jobs(scheduler: BaseScheduler, services: Services) -> set[str]:
    prefix = _poll_job_prefix(services)
    existing = {j.id: j for j in scheduler.get_jobs(jobstore=PERSISTENT)
                if j.id.startswith(prefix)}
    prog = services.call(programme.current)
    try:
        wanted = polls.enabled_schedule(prog)
    except ValueError as exc:
        log.error("poll schedule not applied: %s", exc)
        return set(existing)
    timezone = services.settings.timezone
    target = f"{__name__}:scheduled_poll_round"
    args: list[Any] = [] if services.installs is None else [services.workspace_id]
    kept = set()
    for question, cadence in wanted.items():
        trigger = CronTrigger(day_of_week=cadence.day_of_week, hour=cadence.hour,
                              minute=cadence.minute, timezone=timezone)
        job_id = prefix + question
        kept.add(job_id)
        job = existing.pop(job_id, None)
        if job is not None and str(job.trigger) == str(trigger) and job.func_ref == target:
            continue
        scheduler.add_job(
            target, trigger, args=[question, *args], id=job_id, jobstore=PERSISTENT,
            replace_existing=True, coalesce=True, misfire_grace_time=6 * 3600,
            name=f"poll round: {question}")
        log.info("poll %s scheduled: %s %02d:%02d %s", job_id, cadence.day_of_week,
                 cadence.hour, cadence.minute, timezone)
    for job_id in existing:
        scheduler.remove_job(job_id, jobstore=PERSISTENT)
        log.info("poll job %s removed (question disabled)", job_id)
    return kept


@dataclass(frozen=True)
class Job:
    """One entry of the schedule: what runs, when (an APScheduler trigger and its
    arguments) and how missed runs are treated."""

    id: str
    run: Callable[..., Any]
    trigger: str
    when: dict[str, Any]
    options: dict[str, Any]


def schedule(scheduler: BaseScheduler, services: Services) -> list[Job]:
    """The in-memory jobs, as a table (the poll rounds are synced by `sync_poll_jobs`)."""
    settings = services.settings
    each = for_each_tenant  # every job runs once per active tenant, with its own client
    return [
        Job("roster-sync-startup", each(sync_roster), "date", {},
            {"misfire_grace_time": None}),
        Job("roster-sync-daily", each(sync_roster), "cron",
            {"hour": settings.roster_sync_hour}, {"coalesce": True, "misfire_grace_time": 3600}),
        Job("housekeeping", each(housekeeping), "cron", {"hour": 4, "minute": 30},
            {"coalesce": True}),
        # Uninstalled tenants' data is kept under the same retention rules, so the purge
        # runs for them too (it calls no Slack method).
        Job("retention-purge", each(retention_purge, inactive=True), "cron",
            {"hour": 4, "minute": 45}, {"coalesce": True, "max_instances": 1}),
        Job("poll-maintenance", each(poll_maintenance), "interval",
            {"minutes": settings.poll_check_minutes}, {"coalesce": True, "max_instances": 1}),
        Job("poll-schedule-sync", lambda s: sync_poll_jobs(scheduler, s), "interval",
            {"minutes": 5}, {"coalesce": True, "max_instances": 1}),
        Job("champions-startup", each(champions_tick), "date", {},
            {"misfire_grace_time": None}),
        Job("champions", each(champions_tick), "interval", {"minutes": 15},
            {"coalesce": True, "max_instances": 1}),
    ]


def register(scheduler: BaseScheduler, services: Services) -> None:
    """Add every job to ``scheduler`` and make the poll jobs match the settings."""
    for job in schedule(scheduler, services):
        when = {"start_date": INTERVAL_ORIGIN, **job.when} if job.trigger == "interval" \
            else job.when
        scheduler.add_job(job.run, job.trigger, args=[services], id=job.id, **when,
                          **job.options)
    _ACTIVE["services"] = services


def unregister(services: Services) -> None:
    if _ACTIVE.get("services") is services:
        del _ACTIVE["services"]


class OnceExecutor(ThreadPoolExecutor):  # type: ignore[misc]
    """APScheduler's thread pool, claiming each run (job id and scheduled time) in the
    database before running it (`bot.leader:claim_run`); a run claimed elsewhere is
    skipped with one log line."""

    def __init__(self, engine: Engine, runner: str, since: datetime,
                 max_workers: int = 10) -> None:
        super().__init__(max_workers)
        self.engine, self.runner, self.since = engine, runner, since

    def _do_submit_job(self, job: ScheduledJob, run_times: list[datetime]) -> None:
        def once() -> list[Any]:
            events: list[Any] = []
            for run_time in run_times:
                with claim_run(self.engine, job.id, run_time, self.runner, self.since) as ours:
                    if ours:
                        events += run_job(job, job._jobstore_alias, [run_time],
                                          self._logger.name)
                    else:
                        log.info("job %s (scheduled at %s) runs elsewhere; skipped here",
                                 job.id, run_time.isoformat())
            return events

        def done(future: Any) -> None:
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(once).add_done_callback(done)
