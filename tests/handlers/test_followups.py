"""Work after acks (`handlers.followups`): it runs on threads of its own, so acks never wait
behind earlier requests' work; a full queue falls back to the listener's own thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from bot.errors import PeerPulseError
from bot.services import polls
from handlers.followups import Followups
from tests.handlers.live import Bot, running_bot


def test_work_runs_on_its_own_threads_and_drain_waits_for_it() -> None:
    followups = Followups(threads=2)
    release, ran = threading.Event(), []

    def work(n: int) -> None:
        release.wait(5)
        ran.append((n, threading.current_thread().name))

    for n in range(5):
        followups.submit(lambda n=n: work(n))
    assert not followups.drain(0.2)  # all five wait for the release
    release.set()
    assert followups.drain(5)
    assert sorted(n for n, _ in ran) == [0, 1, 2, 3, 4]
    assert {name for _, name in ran} <= {"peerpulse-followup-0", "peerpulse-followup-1"}
    followups.stop()


def test_a_full_queue_runs_the_work_where_it_was_submitted() -> None:
    followups = Followups(threads=1, queue_max=1)
    release, where = threading.Event(), []
    followups.submit(lambda: release.wait(5))  # taken by the one thread
    assert followups.drain(0.1) is False
    time.sleep(0.05)
    followups.submit(lambda: where.append("queued"))  # fills the queue
    followups.submit(lambda: where.append(threading.current_thread().name))  # runs here
    assert where == [threading.current_thread().name] and followups.inline == 1
    release.set()
    assert followups.drain(5) and where[-1] == "queued"
    followups.stop()


def test_a_failure_is_logged_and_the_threads_carry_on(caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    followups, done = Followups(threads=1), []

    def fail() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="handlers.followups"):
        followups.submit(fail)
        followups.submit(lambda: done.append(1))
        assert followups.drain(5)
    assert done == [1]
    assert "work after an acknowledgement failed" in caplog.text
    followups.stop()


def test_stop_finishes_what_is_queued() -> None:
    followups, done = Followups(threads=1), []
    for n in range(20):
        followups.submit(lambda n=n: (time.sleep(0.005), done.append(n)))
    followups.stop(timeout=10)
    assert done == list(range(20))


# Over real HTTP: clicks acknowledged while earlier clicks' work is still held up ----------

@pytest.fixture
def bot(tmp_path: object) -> Iterator[Bot]:
    with running_bot(str(tmp_path), ("UALEX", "UBEA"), Followups(threads=2)) as live:
        yield live


class Held(PeerPulseError):
    pass


def test_clicks_are_acknowledged_while_earlier_work_is_held_up(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every click's work blocks until released: more clicks than Bolt's listener threads
    # (bot.app.LISTENER_THREADS) must all be acknowledged meanwhile, and all done after.
    from bot.app import LISTENER_THREADS

    release, started = threading.Event(), []

    def held(uow: object, request_id: int, user_id: str, **kwargs: object) -> None:
        started.append(request_id)
        release.wait(20)
        raise Held(f"poll {request_id} answered")

    monkeypatch.setattr(polls, "submit_answer", held)
    clicks = LISTENER_THREADS + 8
    acks: list[tuple[int, float]] = []
    keys: list[str] = []

    def click(n: int) -> None:
        t0 = time.monotonic()
        resp = bot.slack.block_action("UALEX", "poll_pick", block_id=f"poll:{n}",
                                      action_type="multi_users_select",
                                      action={"selected_users": ["UBEA"]})
        acks.append((resp.status, time.monotonic() - t0))
        keys.append(str(resp.response_key))

    threads = [threading.Thread(target=click, args=(n,)) for n in range(1, clicks + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    try:
        assert len(acks) == clicks and {status for status, _ in acks} == {200}
        assert max(seconds for _, seconds in acks) < 2.0, sorted(s for _, s in acks)
    finally:
        release.set()
    # Each click was carried out once, and its person told what came of it.
    bot.sandbox.wait_for(lambda: len(started) == clicks and all(
        bot.sandbox.responses(k) for k in keys), timeout=20)
    assert sorted(started) == list(range(1, clicks + 1))
