"""The work listeners do after acknowledging Slack, on threads of its own.

Bolt runs every listener on its listener pool, and a slash command's or a click's ack
waits for a free thread there. Work after the ack (a poll answer stored and its message
replaced, a reaction's tie, a `/kudos` carried out and its DMs and reply posted) used to
keep that thread, so under a burst the acks of new requests queued behind the work of
earlier ones: at 300 requests/s on 2 cores the ack p99 was 9.9 s, past Slack's 3-second
deadline (after which Slack shows the person an error and redelivers events, adding
load). `Followups` takes that work off the listener pool: it waits in a queue for
`threads` threads, so an ack never waits for earlier requests' work, only for the CPU.

The queue is bounded (`queue`): when that many are waiting, the listener does its work
itself, as before, and acks slow down instead of memory growing without end. What waits
in the queue is lost if the process is killed (a graceful stop drains it, `stop`); a
`/kudos` is recorded before its ack and finished by the next start, a poll stays open to
be answered again, and Slack does not redeliver an acknowledged event.

Acks come first. A request is *being answered* from when Bolt's middleware sees it
(`Followups.middleware`, registered first in `bot.app`) until its listener has
acknowledged it (`handlers.errors.Guard` says so; else the middleware when Bolt is done).
While a process is answering a request, its followup threads start no new work: each
waits for a moment when nothing is being answered, at most `MAX_DEFER` seconds. And the
followup threads run at a lower CPU priority (`NICENESS`), so the work they have started
yields the CPU to answering, in this process and in the other workers. On a bot that
keeps up, quiet moments come every few milliseconds and the work starts at once (100
requests/s on SQLite: done 0.7 s after the last answer); under a burst heavier than the
CPU can carry (300 requests/s on 2 cores, about 3 cores of work), answering Slack
within its deadline gets the CPU and the work after the acks catches up when the burst
is over. Measured with `bench/http_load.py` (`docs/deploy.md`): the ack p99 at 300/s
went from 2.8-9.1 s (with timeouts) to 0.12-0.53 s (1.0-1.4 s when other work took a
fifth of the machine); the gate alone gave 0.56-1.8 s, and a lower priority alone did not
help (the thread holding the GIL was the one slowed).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Threads per process for work after acks, and how much work may wait for them. The work
#: waits on the database and on Slack (a DM waits for its channel's slot) more than it
#: computes, so a few threads keep up: SQLite at 100 requests/s finished it 0.6 s after the
#: last answer with 4 threads, 8.2 s with 2. Under a burst it competes with answering Slack
#: for the CPU (300 requests/s on 2 cores: the ack p99 grew with 8 threads). Each holds a
#: database connection while it works, well within the pool of `bot.db`. Under a burst the
#: queue holds what waits for the burst to pass: at 300 requests/s for 20 s on 2 cores
#: (3 workers) each worker grew by about 17 MB; a full queue would slow the acks.
THREADS = 4
QUEUE = 5000
#: Longest a followup waits for a moment when nothing is being answered. Past it, it runs
#: anyway (a bot that is never quiet still does its work); a sustained overload meets the
#: full queue (`QUEUE`) and slows the acks instead.
MAX_DEFER = 60.0
#: The followup threads' niceness (Linux: per thread): the CPU serves acks first, in this
#: process and in the others (gunicorn's workers, PostgreSQL).
NICENESS = 10
#: Where `answering` leaves the request's `Answering` in Bolt's context.
ANSWERING = "peerpulse_answering"


def lower_priority(niceness: int = NICENESS) -> None:
    """Give the calling thread less of the CPU (Linux, where niceness is per thread;
    elsewhere it would lower the whole process, so nothing is done)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError as exc:  # a sandbox that forbids it: the gate still holds work back
            log.debug("cannot lower the followup threads' priority: %s", exc)


class Answering:
    """One request being answered; ``done()`` (idempotent, any thread) when it is
    acknowledged."""

    __slots__ = ("_followups", "_open")

    def __init__(self, followups: Followups) -> None:
        self._followups, self._open = followups, True
        with followups._quiet:
            followups._answering += 1

    def __deepcopy__(self, memo: dict[int, Any]) -> Answering:
        # Bolt deep-copies the context for lazy listeners (`/network snapshot`): they
        # share this request's handle (it holds a lock, which cannot be copied).
        return self

    def done(self) -> None:
        f = self._followups
        with f._quiet:
            if self._open:
                self._open = False
                f._answering -= 1
                if not f._answering:
                    f._quiet.notify_all()


class Followups:
    """A bounded queue of work and the threads that do it (started on first use, in the
    process that uses it: gunicorn forks its workers after building the app)."""

    def __init__(self, threads: int = THREADS, queue_max: int = QUEUE,
                 max_defer: float = MAX_DEFER) -> None:
        self.threads, self.queue_max, self.max_defer = threads, queue_max, max_defer
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        #: How often the queue was full and a listener did its work itself.
        self.inline = 0
        self._fresh(pid=0)

    def _fresh(self, pid: int) -> None:
        """The state of one process (a forked child starts its own: the parent's threads
        are gone, and its locks may have been held at the fork)."""
        self._pid = pid
        #: Work waits here with when it was submitted (None: a thread's signal to end).
        self._queue: queue.Queue[tuple[float, Callable[[], None]] | None] = queue.Queue(
            self.queue_max)
        self._workers: list[threading.Thread] = []
        self._busy = 0
        self._answering = 0
        self._quiet = threading.Condition(threading.Lock())
        self._stopping = False

    def answering(self) -> Answering:
        """A request is being answered from now until the result's ``done()``."""
        self._ensure_started()  # in a forked child, before its first count
        return Answering(self)

    def middleware(self, context: Any, next: Callable[[], Any]) -> Any:
        """Bolt middleware (register it first): each request is being answered until its
        listener acknowledged it (`handlers.errors.Guard` says when) or Bolt is done."""
        answering = context[ANSWERING] = self.answering()
        try:
            return next()
        finally:
            answering.done()

    def submit(self, work: Callable[[], None]) -> None:
        """Do ``work`` (which handles its own errors) on a followup thread, or here when
        the queue is full."""
        self._ensure_started()
        with self._lock:
            self._busy += 1
        try:
            self._queue.put_nowait((time.monotonic(), work))
        except queue.Full:
            with self._lock:
                self._busy -= 1
                self.inline += 1
                inline = self.inline
            if inline == 1 or inline % 1000 == 0:
                log.warning("the work after acks is %d behind (queue full, %d done inline "
                            "so far): acks slow down until it catches up; the bot needs "
                            "more CPU (docs/deploy.md, sizing)", self.queue_max, inline)
            self._run(work)

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is queued or being done; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued (up to ``timeout``), then end the threads."""
        with self._quiet:
            self._stopping = True  # what is queued runs now, answering or not
            self._quiet.notify_all()
        if not self.drain(timeout):
            log.warning("stopping with %d followups unfinished", self._busy)
        with self._lock:
            workers, self._workers = self._workers, []
        for _ in workers:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    def _ensure_started(self) -> None:
        if self._pid == os.getpid() and self._workers:
            return
        with self._lock:
            if self._pid != os.getpid():
                self._fresh(os.getpid())
            if not self._workers:
                self._stopping = False
            while len(self._workers) < self.threads:
                worker = threading.Thread(target=self._work, daemon=True,
                                          name=f"peerpulse-followup-{len(self._workers)}")
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        lower_priority()
        while True:
            item = self._queue.get()
            if item is None:
                return
            submitted, work = item
            self._wait_for_quiet(submitted + self.max_defer)
            self._run(work)
            with self._lock:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()

    def _wait_for_quiet(self, until: float) -> None:
        """Until nothing is being answered in this process (or ``until``)."""
        with self._quiet:
            while self._answering and not self._stopping:
                left = until - time.monotonic()
                if left <= 0:
                    return
                self._quiet.wait(left)

    @staticmethod
    def _run(work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # the work reports its own errors; this is the last resort
            log.exception("work after an acknowledgement failed")
