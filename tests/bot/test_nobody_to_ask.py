"""A poll round with nobody to ask is not opened, on the schedule or by hand, and the
reason names who is out of reach and why (issue 10 item 19)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from bot import db, jobs
from bot.app import build_services
from bot.config import load_settings
from bot.models import Person, PollRound
from bot.services import Services, polls
from bot.services.roster import apply_user
from bot.services.workspace import ensure_workspace


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    wired = build_services(load_settings(None, DATABASE_URL=database_url,
                                         PEERPULSE_POLL_SAMPLE="1"))
    with db.transaction(wired.sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        for n in range(5):
            apply_user(s, ws, {"id": f"U{n:03d}", "name": f"p{n}", "real_name": f"P {n}"})
    wired.use_stored_workspace()
    wired.clock = lambda: datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    yield wired
    wired.sessions.kw["bind"].dispose()


def rounds(services: Services) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(PollRound)) or 0)


def test_nobody_to_ask_opens_no_round_and_says_why(services: Services) -> None:
    with db.transaction(services.sessions) as s:
        s.execute(update(Person).where(Person.slack_id == "U000").values(opted_out=True))
        s.execute(update(Person).where(Person.slack_id.in_(["U001", "U002"]))
                  .values(polls_paused=True))
    assert services.call(polls.start_round, "helped").asked == 2
    with pytest.raises(polls.NobodyToAsk) as nobody:
        services.call(polls.start_round, "advice")
    assert str(nobody.value) == (
        "Nobody can be asked now, so no round was opened: of 5 people, 1 opted out, "
        "2 paused their polls and 2 were asked in the last 14 days "
        "(PEERPULSE_POLL_MIN_DAYS_BETWEEN).")
    assert rounds(services) == 1


def test_a_scheduled_round_with_nobody_to_ask_is_skipped_with_one_log_line(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    assert jobs.poll_round(services, "helped") is not None
    services.clock = lambda: datetime(2026, 11, 3, 10, 0, tzinfo=UTC)  # next day: all asked
    caplog.set_level(logging.INFO, logger="bot.jobs")
    assert jobs.poll_round(services, "advice") is None
    assert rounds(services) == 1
    [line] = [r for r in caplog.records if r.name == "bot.jobs"]
    assert line.levelno == logging.INFO and "not opened" in line.getMessage()
    assert line.exc_info is None
