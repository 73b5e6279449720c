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
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Threads per process for work after acks, and how much work may wait for them. The work
#: waits on the database and on Slack (a DM waits for its channel's slot) more than it
#: computes, so a few threads keep up: SQLite at 100 requests/s finished it 0.6 s after the
#: last answer with 4 threads, 8.2 s with 2. Under a burst it competes with answering Slack
#: for the CPU (300 requests/s on 2 cores: the ack p99 grew with 8 threads). Each holds a
#: database connection while it works, well within the pool of `bot.db`.
THREADS = 4
QUEUE = 1000


class Followups:
    """A bounded queue of work and the threads that do it (started on first use, in the
    process that uses it: gunicorn forks its workers after building the app)."""

    def __init__(self, threads: int = THREADS, queue_max: int = QUEUE) -> None:
        self.threads, self.queue_max = threads, queue_max
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(queue_max)
        self._workers: list[threading.Thread] = []
        self._busy = 0
        self._idle = threading.Condition(self._lock)
        #: How often the queue was full and a listener did its work itself.
        self.inline = 0

    def submit(self, work: Callable[[], None]) -> None:
        """Do ``work`` (which handles its own errors) on a followup thread, or here when
        the queue is full."""
        self._ensure_started()
        with self._lock:
            self._busy += 1
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            with self._lock:
                self._busy -= 1
                self.inline += 1
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
            if self._pid != os.getpid():  # a forked child: the parent's threads are gone
                self._pid, self._workers, self._busy = os.getpid(), [], 0
                self._queue = queue.Queue(self.queue_max)
            while len(self._workers) < self.threads:
                worker = threading.Thread(target=self._work, daemon=True,
                                          name=f"peerpulse-followup-{len(self._workers)}")
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            self._run(work)
            with self._lock:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()

    @staticmethod
    def _run(work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # the work reports its own errors; this is the last resort
            log.exception("work after an acknowledgement failed")
