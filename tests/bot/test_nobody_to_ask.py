"""A poll round with nobody to ask is not opened, on the schedule or by hand, and the
reason names who is out of reach and why (issue 10 item 19)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select, update

from bot import db, jobs
from bot.models import Person, PollRound
from bot.services import Services, polls
from tests.bot.test_jobs import services  # six people, everyone asked per round

__all__ = ["services"]


def rounds(services: Services) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(PollRound)) or 0)


def test_nobody_to_ask_opens_no_round_and_says_why(services: Services) -> None:
    with db.transaction(services.sessions) as s:
        s.execute(update(Person).where(Person.slack_id == "U000").values(opted_out=True))
        s.execute(update(Person).where(Person.slack_id.in_(["U001", "U002"]))
                  .values(polls_paused=True))
    assert services.call(polls.start_round, "helped").asked == 3
    with pytest.raises(polls.NobodyToAsk) as nobody:
        services.call(polls.start_round, "advice")
    assert str(nobody.value) == (
        "Nobody can be asked now, so no round was opened: of 6 people, 1 opted out, "
        "2 paused their polls and 3 were asked in the last 14 days "
        "(PEERPULSE_POLL_MIN_DAYS_BETWEEN).")
    assert rounds(services) == 1


def test_a_scheduled_round_with_nobody_to_ask_is_skipped_with_one_log_line(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    assert jobs.poll_round(services, "helped") is not None
    caplog.set_level(logging.INFO, logger="bot.jobs")
    caplog.clear()  # the first round's own line is captured too when logging is already at INFO
    assert jobs.poll_round(services, "advice") is None  # everyone was asked today
    assert rounds(services) == 1
    [line] = [r for r in caplog.records if r.name == "bot.jobs"]
    assert line.levelno == logging.INFO and "not opened" in line.getMessage()
    assert line.exc_info is None
