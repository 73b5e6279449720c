"""Failures a test injects into the sandbox: one-off or standing errors (before the call is
carried out, or after it, as when Slack posts a message and then answers 500), HTML pages
instead of JSON, a deterministic share of 429s with Retry-After, and delays, per Web API
method, ``"upload"``, ``"response_url"`` or ``"*"`` (any)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

# How the sandbox answers: HTTP status, JSON body, extra headers. A body holding only
# HTML_BODY is sent as an HTML page instead of JSON.
Reply = tuple[int, dict[str, Any], dict[str, str]]
HTML_BODY = "_html"
HTML_PAGE = "<html><body><h1>Slack is having trouble</h1></body></html>"


@dataclass
class _Fault:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int | None  # None: until cleared
    after: bool = False  # the call is carried out first, then answered with the failure
    html: bool = False  # the answer is an HTML page, not JSON


@dataclass
class _RateLimit:
    fraction: float
    retry_after: int
    rng: random.Random


@dataclass
class _Delay:
    seconds: float
    remaining: int | None
    after: bool = False  # the call is carried out first, then answered late


class FaultInjection:
    """The fault tables of a sandbox and the public calls that arrange them."""

    def __init__(self) -> None:
        super().__init__()
        self._fault_lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._rate_limits: dict[str, _RateLimit] = {}
        self._delays: dict[str, _Delay] = {}

    def fail(
        self,
        method: str,
        status: int | None = None,
        *,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        after: bool = False,
        html: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"``: any) with a failure.

        ``status`` defaults to 429 (``error="ratelimited"``, ``Retry-After: 1``) unless
        only ``error`` is given, which answers HTTP 200 with ``ok: false``. Retry-After is
        whole seconds, as Slack sends it (slack_sdk parses it with ``int``). 5xx statuses
        answer a non-JSON body, as Slack's edge does. ``times=None`` fails until cleared.
        ``after``: the call is carried out (a message is posted) before the failure is
        answered, as when Slack times out after doing the work. ``html``: the answer is an
        HTML page (with ``status``, e.g. 200 from a proxy in front of Slack).
        """
        if status is None:
            status = 429 if error in (None, "ratelimited") else 200
        if status == 429:
            error = error or "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        with self._fault_lock:
            self._faults.setdefault(method, []).append(
                _Fault(status, error, retry_after, times, after, html))

    def rate_limit(
        self, method: str, fraction: float = 0.3, *, retry_after: int = 1, seed: int = 0
    ) -> None:
        """Answer a deterministic ``fraction`` of calls to ``method`` with 429 + Retry-After."""
        with self._fault_lock:
            self._rate_limits[method] = _RateLimit(fraction, retry_after, random.Random(seed))

    def delay(self, method: str, seconds: float, *, times: int | None = None,
              after: bool = False) -> None:
        """Sleep ``seconds`` before answering ``method`` (``times=None``: until cleared).

        ``after`` (Web API methods only): the call is carried out first (a message is
        posted) and answered ``seconds`` later, as when Slack is slow to answer a post it
        has made: a client that dies meanwhile never learns that it was made.
        """
        with self._fault_lock:
            self._delays[method] = _Delay(seconds, times, after)

    def clear_faults(self, method: str | None = None) -> None:
        """Remove failures, rate limits and delays (for one method, or all)."""
        with self._fault_lock:
            for table in (self._faults, self._rate_limits, self._delays):
                if method is None:
                    table.clear()
                else:
                    table.pop(method, None)

    def _injected(self, method: str, *, after: bool = False) -> Reply | None:
        """A fault, rate limit or delay configured for ``method``; sleeps for delays.
        ``after``: the failures to answer once the call has been carried out."""
        sleep = 0.0
        reply: Reply | None = None
        with self._fault_lock:
            for key in (method, "*"):
                delay = self._delays.get(key)
                if delay is not None and delay.after == after and delay.remaining != 0:
                    sleep = max(sleep, delay.seconds)
                    if delay.remaining is not None:
                        delay.remaining -= 1
            for key in (method, "*"):
                faults = [f for f in self._faults.get(key) or [] if f.after == after]
                if faults:
                    fault = faults[0]
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults[key].remove(fault)
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(int(fault.retry_after))
                    body: dict[str, Any] = {HTML_BODY: True} if fault.html else \
                        {"ok": False, "error": fault.error}
                    reply = (fault.status, body, headers)
                    break
            if reply is None and not after:
                for key in (method, "*"):
                    limit = self._rate_limits.get(key)
                    if limit is not None and limit.rng.random() < limit.fraction:
                        reply = (
                            429,
                            {"ok": False, "error": "ratelimited"},
                            {"Retry-After": str(int(limit.retry_after))},
                        )
                        break
        if sleep:
            time.sleep(sleep)
        return reply
