"""Scheduled jobs (`bot.jobs`): one table, registered by the runtime, each job one use case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from bot import db, jobs
from bot.app import build_services
from bot.config import load_settings
from bot.models import OutboxMessage, PollRound
from bot.services import Services
from bot.services.roster import apply_user
from bot.services.settings import update_settings
from bot.services.workspace import ensure_workspace


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    settings = load_settings(None, DATABASE_URL=database_url, PEERPULSE_POLL_SAMPLE="1",
                             PEERPULSE_POLL_QUESTIONS="helped,advice",
                             PEERPULSE_POLL_SCHEDULE="helped=mon 10:00,advice=thu 9:30")
    wired = build_services(settings)
    with db.transaction(wired.sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        for n in range(6):
            apply_user(s, ws, {"id": f"U{n:03d}", "name": f"p{n}", "real_name": f"P {n}"})
    wired.use_stored_workspace()
    wired.clock = lambda: datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    yield wired
    jobs.unregister(wired)
    wired.sessions.kw["bind"].dispose()


@pytest.fixture
def scheduler(services: Services) -> Iterator[BackgroundScheduler]:
    engine = services.sessions.kw["bind"]
    sched = BackgroundScheduler(timezone="UTC", jobstores={
        "default": MemoryJobStore(), jobs.PERSISTENT: SQLAlchemyJobStore(engine=engine)})
    sched.start(paused=True)  # jobs are stored, none runs
    yield sched
    sched.shutdown(wait=False)


def test_register_adds_every_job_of_the_table(services: Services,
                                              scheduler: BackgroundScheduler) -> None:
    jobs.register(scheduler, services)
    ids = {j.id for j in scheduler.get_jobs(jobstore="default")}
    assert ids == {j.id for j in jobs.schedule(scheduler, services)}
    assert {"roster-sync-daily", "housekeeping", "poll-maintenance"} <= ids


def test_poll_jobs_follow_the_enabled_questions(services: Services,
                                                scheduler: BackgroundScheduler) -> None:
    jobs.sync_poll_jobs(scheduler, services)
    persistent = {j.id: j for j in scheduler.get_jobs(jobstore=jobs.PERSISTENT)}
    assert set(persistent) == {"poll-helped", "poll-advice"}
    assert persistent["poll-helped"].func_ref == "bot.jobs:scheduled_poll_round"
    with db.transaction(services.sessions) as s:
        update_settings(s, services.workspace_id, "UOWNER", {"poll_questions": ("helped",)})
    jobs.sync_poll_jobs(scheduler, services)
    assert [j.id for j in scheduler.get_jobs(jobstore=jobs.PERSISTENT)] == ["poll-helped"]


def test_a_job_saved_under_the_old_runtime_path_is_replaced(
        services: Services, scheduler: BackgroundScheduler) -> None:
    from apscheduler.triggers.cron import CronTrigger

    scheduler.add_job("bot.runtime:scheduled_poll_round",
                      CronTrigger(day_of_week="mon", hour=10, minute=0, timezone="UTC"),
                      args=["helped"], id="poll-helped", jobstore=jobs.PERSISTENT)
    jobs.sync_poll_jobs(scheduler, services)
    job = scheduler.get_job("poll-helped", jobstore=jobs.PERSISTENT)
    assert job is not None and job.func_ref == "bot.jobs:scheduled_poll_round"


def test_a_scheduled_round_fired_twice_the_same_day_opens_once(services: Services) -> None:
    first = jobs.poll_round(services, "helped")
    again = jobs.poll_round(services, "helped")
    assert first.round_id == again.round_id and first.asked == 6 and again.queued == 0
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(PollRound)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 6


def test_the_persistent_job_uses_the_active_services(services: Services,
                                                     scheduler: BackgroundScheduler) -> None:
    jobs.scheduled_poll_round("helped")  # no bot running: skipped, nothing opened
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(PollRound)) == 0
    jobs.register(scheduler, services)
    jobs.scheduled_poll_round("helped")
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(PollRound)) == 1
