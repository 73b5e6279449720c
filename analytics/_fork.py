"""Run one independent piece of work in a second process, to use a second core.

``peerpulse analyze`` on a large network spends seconds in steps that share nothing but
their input: sampled betweenness beside the rest of the analysis, the Gephi files and the
picture beside metrics.json, people.csv and the report. :func:`in_child` runs such a step in
a forked child (the input is shared copy-on-write, nothing is serialised on the way in) and
hands back a function that waits for its result (pickled through a pipe, so keep results
small: arrays of one value a person, not graphs).

Only where ``os.fork`` exists (Linux, macOS); :func:`can_fork` says so. The caller decides
whether a second process is worth it (the CLI does for networks of thousands of people; the
bot never forks: it runs threads and holds database connections). The child never returns
into the caller's code: it leaves with ``os._exit`` whatever happens, without running the
parent's exit handlers or flushing its buffers twice. An exception in the child is raised
again in the parent when it waits (its type kept when it can be pickled).
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ChildFailed", "can_fork", "in_child", "usable_cores"]

T = TypeVar("T")


class ChildFailed(RuntimeError):
    """The second process ended without an answer (killed, out of memory) or its error could
    not be carried back as it was."""


def can_fork() -> bool:
    """Whether :func:`in_child` can run work in a second process on this system."""
    return hasattr(os, "fork") and sys.platform != "win32"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def in_child(work: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[], T]:
    """Start ``work(*args, **kwargs)`` in a forked child; return a function that waits for
    its result.

    Call the returned function exactly once (it reaps the child). Standard output and error
    are flushed before forking so that nothing buffered is written twice.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_end)
            try:
                answer = pickle.dumps((True, work(*args, **kwargs)),
                                      protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:
                try:
                    answer = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:
                    answer = pickle.dumps((False, ChildFailed(f"{type(exc).__name__}: {exc}")))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    waited = False

    def wait() -> T:
        nonlocal waited
        if waited:
            raise RuntimeError("in_child: the result was already collected")
        waited = True
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()  # read to the end first: a full pipe would block the child
        _, status = os.waitpid(pid, 0)
        if not data:
            raise ChildFailed(f"the second process ended without an answer (wait status "
                              f"{status})")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    return wait
