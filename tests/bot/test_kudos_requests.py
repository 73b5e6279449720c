"""The durable `/kudos` request: recorded before the acknowledgement, carried out after it,
and finished at the next start when the process stopped in between (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select

from bot.devkit.sandbox import SlackSandbox
from bot.models import KudosRequest, OutboxMessage, Tie
from bot.services import Services, kudos
from tests.bot.test_kudos_rules import humans, wire

PEOPLE = [f"U{i:03d}" for i in range(5)]


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sb:
        sb.add_users(humans(PEOPLE))
        sb.add_users([{"id": "UROBOT", "name": "robot", "deleted": False, "is_bot": True}])
        yield sb


@pytest.fixture
def services(database_url: str, sandbox: SlackSandbox) -> Iterator[Services]:
    yield from wire(database_url, sandbox, PEERPULSE_SLACK_MAX_RETRIES="0")


def receive(services: Services, giver: str, text: str, key: str) -> bool:
    return services.call(kudos.receive_command, giver=giver, text=text, request_key=key)


def later(services: Services) -> object:
    return services.clock() + timedelta(seconds=1)


def requests(services: Services) -> dict[str, str]:
    with services.sessions() as s:
        return {k: st for k, st in s.execute(select(KudosRequest.request_key,
                                                    KudosRequest.status))}


def dms_to(services: Services, user: str) -> list[str]:
    with services.sessions() as s:
        return [p["text"] for p in s.scalars(select(OutboxMessage.payload)
                                             .where(OutboxMessage.channel == user))]


def ties(services: Services) -> int:
    with services.sessions() as s:
        return int(s.scalar(select(func.count(Tie.id))) or 0)


def test_a_request_recorded_twice_is_one_request(services: Services) -> None:
    assert receive(services, "U001", "<@U002> thanks", "t1")
    assert not receive(services, "U001", "<@U002> thanks", "t1")
    assert requests(services) == {"t1": "pending"}


def test_the_usual_path_stores_once_and_forgets_the_request(services: Services) -> None:
    receive(services, "U001", "<@U002> for the fix", "t1")
    answer = kudos.carry_out(services, giver="U001", text="<@U002> for the fix",
                             request_key="t1")
    assert answer.given is not None and answer.given.outcome.stored == ["U002"]
    assert requests(services) == {"t1": "done"}
    services.call(kudos.forget_request, "t1")
    assert requests(services) == {} and ties(services) == 1


def test_at_start_up_an_unfinished_request_is_carried_out_and_its_giver_told(
        services: Services) -> None:
    receive(services, "U001", "<@U002> for the fix", "t1")  # acknowledged, then a crash
    assert kudos.finish_unfinished(services, later(services)) == 0
    assert ties(services) == 1 and requests(services) == {}
    assert dms_to(services, "U002"), "the kudos DM is queued"
    (told,) = dms_to(services, "U001")
    assert "restarted" in told and "saved" in told and "<@U002>" in told


def test_a_request_done_but_never_answered_is_answered_once(services: Services) -> None:
    receive(services, "U001", "<@U002> for the fix", "t1")
    kudos.carry_out(services, giver="U001", text="<@U002> for the fix", request_key="t1")
    # the process stopped before answering the giver
    assert kudos.finish_unfinished(services, later(services)) == 0
    assert ties(services) == 1 and requests(services) == {}
    assert len(dms_to(services, "U001")) == 1 and len(dms_to(services, "U002")) == 1
    assert kudos.finish_unfinished(services, later(services)) == 0
    assert len(dms_to(services, "U001")) == 1


def test_a_refused_request_is_answered_with_the_reason(services: Services) -> None:
    receive(services, "U001", "<@UROBOT> for the deploys", "t1")
    receive(services, "U003", "nobody named", "t2")
    kudos.finish_unfinished(services, later(services))
    (refused,) = dms_to(services, "U001")
    assert "could not record it: <@UROBOT> is a bot" in refused
    (helped,) = dms_to(services, "U003")
    assert "/kudos help" in helped
    assert ties(services) == 0 and requests(services) == {}


def test_requests_received_after_the_start_are_left_to_their_own_listener(
        services: Services) -> None:
    start = services.clock() - timedelta(seconds=5)
    receive(services, "U001", "<@U002> for the fix", "t1")
    kudos.finish_unfinished(services, start)
    assert requests(services) == {"t1": "pending"} and ties(services) == 0


def test_a_request_that_fails_again_stays_for_the_next_try(
        services: Services, sandbox: SlackSandbox) -> None:
    receive(services, "U001", "<@UNEWCOMER> welcome aboard", "t1")  # not in the roster yet
    sandbox.fail("users.info", 500, times=None)
    assert kudos.finish_unfinished(services, later(services)) == 1
    assert requests(services) == {"t1": "pending"}
    sandbox.clear_faults()
    sandbox.add_users([{"id": "UNEWCOMER", "name": "new", "deleted": False, "is_bot": False}])
    assert kudos.finish_unfinished(services, later(services)) == 0
    assert ties(services) == 1 and requests(services) == {}


def test_a_listener_that_fails_drops_the_pending_request_it_asks_to_retry(
        services: Services, sandbox: SlackSandbox) -> None:
    receive(services, "U001", "<@UNEWCOMER> welcome aboard", "t1")
    sandbox.fail("users.info", 500, times=None)
    with pytest.raises(SlackApiError):
        kudos.carry_out(services, giver="U001", text="<@UNEWCOMER> welcome aboard",
                        request_key="t1", abandon_on_error=True)
    assert requests(services) == {}, "the giver is told to try again: nothing left to redo"


def test_the_one_statement_use_cases_run_one_statement_each(services: Services) -> None:
    # They are marked `one_statement`, so on PostgreSQL they run in autocommit: a second
    # statement would not commit with the first. Counted on both databases.
    from sqlalchemy import event

    from bot.services import events

    receive(services, "U001", "<@U002> thanks", "t0")  # the workspace is seen once
    engine = services.sessions.kw["bind"]
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        runs = [(kudos.receive_command, {"giver": "U001", "text": "<@U002> hi",
                                         "request_key": "t1"}),
                (kudos.settle_request, {"request_key": "t1",
                                        "answer": kudos.KudosAnswer(refused="no")}),
                (kudos.forget_request, {"request_key": "t1"}),
                (kudos.abandon_request, {"request_key": "t0"}),
                (events.record_delivery, {"event_id": "Ev1"})]
        for use_case, kwargs in runs:
            assert getattr(use_case, "one_statement", False), use_case.__name__
            sent.clear()
            services.call(use_case, **kwargs)  # type: ignore[arg-type]
            assert len(sent) == 1 and sent[0] in ("INSERT", "UPDATE", "DELETE"), \
                (use_case.__name__, sent)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert requests(services) == {}
    assert not services.call(events.record_delivery, "Ev1")
