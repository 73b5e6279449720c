"""Work after acks (`handlers.followups`): it runs on threads of its own, so acks never wait
behind earlier requests' work; a full queue falls back to the listener's own thread."""

from __future__ import annotations

import copy
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.errors import PeerPulseError
from bot.services import polls
from handlers.errors import Guard
from handlers.followups import ANSWERING, NICENESS, Followups
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


def test_a_full_queue_runs_the_work_where_it_was_submitted(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.followups")
    followups = Followups(threads=1, queue_max=1)
    release, where = threading.Event(), []
    followups.submit(lambda: release.wait(5))  # taken by the one thread
    assert followups.drain(0.1) is False
    time.sleep(0.05)
    followups.submit(lambda: where.append("queued"))  # fills the queue
    followups.submit(lambda: where.append(threading.current_thread().name))  # runs here
    assert where == [threading.current_thread().name] and followups.inline == 1
    assert "the work after acks is 1 behind (queue full, 1 done inline" in caplog.text
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


# Acks come first: work waits while a request is being answered -----------------------

def test_work_waits_while_a_request_is_being_answered() -> None:
    followups, done = Followups(threads=2), []
    answering = followups.answering()
    followups.submit(lambda: done.append(1))
    assert not followups.drain(0.3) and done == []
    answering.done()
    assert followups.drain(5) and done == [1]
    # done() twice counts once: a later request still holds work back.
    answering.done()
    second = followups.answering()
    followups.submit(lambda: done.append(2))
    assert not followups.drain(0.2) and done == [1]
    second.done()
    assert followups.drain(5) and done == [1, 2]
    followups.stop()


def test_a_lazy_listeners_copy_of_the_context_shares_the_request_being_answered() -> None:
    # Bolt deep-copies the context for lazy listeners; the copy must work (Bolt logs a
    # warning and drops the key otherwise) and count the same request, not a second one.
    followups, done = Followups(threads=1), []
    answering = followups.answering()
    copied = copy.deepcopy({ANSWERING: answering})[ANSWERING]
    followups.submit(lambda: done.append(1))
    copied.done()
    assert followups.drain(5) and done == [1]
    answering.done()  # the same request: already done, nothing goes negative
    held = followups.answering()
    followups.submit(lambda: done.append(2))
    assert not followups.drain(0.2)
    held.done()
    assert followups.drain(5) and done == [1, 2]
    followups.stop()


def test_work_waits_for_quiet_no_longer_than_max_defer() -> None:
    followups, done = Followups(threads=1, max_defer=0.3), []
    answering = followups.answering()  # never done: a bot that is never quiet
    t0 = time.monotonic()
    followups.submit(lambda: done.append(time.monotonic() - t0))
    assert followups.drain(5)
    assert 0.3 <= done[0] < 2.0
    answering.done()
    followups.stop()


def test_stop_runs_what_is_queued_even_while_answering() -> None:
    followups, done = Followups(threads=1), []
    answering = followups.answering()
    followups.submit(lambda: done.append(1))
    t0 = time.monotonic()
    followups.stop(timeout=5)
    assert done == [1] and time.monotonic() - t0 < 2.0
    answering.done()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness")
def test_followup_threads_give_the_cpu_to_acks_first() -> None:
    followups, seen = Followups(threads=1), []
    followups.submit(lambda: seen.append(
        os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    assert followups.drain(5)
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [max(NICENESS, here)] and here < NICENESS  # this thread is untouched
    followups.stop()


@pytest.mark.parametrize("after_ack", [True, False])
def test_a_guarded_listener_stops_holding_work_back_once_it_acknowledged(
        after_ack: bool) -> None:
    # Bolt's middleware (Followups.middleware) opens the window; the guard closes it as
    # soon as the listener acknowledged, so its own work need not wait for Bolt to finish.
    followups, done = Followups(threads=1, max_defer=30), []
    guard = Guard(WebClient(token="xoxb-test"), followups)
    acks: list[object] = []

    class Ack:
        response = None

        def __call__(self) -> None:
            acks.append(1)
            self.response = object()  # type: ignore[assignment]

    if after_ack:
        listener = guard.after_ack(lambda body: done.append(body["n"]))
    else:
        def kudos(ack: Ack, body: dict[str, int]) -> None:
            ack()
            guard.later(lambda: done.append(body["n"]), body, None)
        listener = guard(kudos)
    listener(ack=Ack(), body={"n": 7}, respond=None, client=None,
             context={ANSWERING: followups.answering()})
    assert followups.drain(5) and done == [7] and acks == [1]
    followups.stop()


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


def test_a_slow_network_subcommand_runs_lazily_with_acks_first(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    # A slow `/network` subcommand runs in Bolt's lazy listener, on a deep copy of the
    # request's context, which holds the request being answered (handlers.followups).
    from handlers import commands

    monkeypatch.setitem(commands.NETWORK, "slowping", commands.Subcommand(
        "slowping", lambda req: commands.Reply(f"pong for <@{req.user}>"), owner_only=True,
        working="the ping"))
    caplog.set_level(logging.WARNING)
    with running_bot(str(tmp_path), ("UOWNER", "UBEA"), Followups(threads=2),
                     PEERPULSE_OWNERS="UOWNER") as live:
        resp = live.slack.slash_command("/network", "slowping", "UOWNER")
        assert resp.status == 200 and "the ping" in str((resp.json or {}).get("text"))
        key = resp.response_key
        assert key is not None
        said = live.sandbox.wait_for(lambda: live.sandbox.responses(key), timeout=20)
    assert [r.get("text") for r in said] == ["pong for <@UOWNER>"]
    assert "deep-copy" not in caplog.text, caplog.text
