"""The one way a failure reaches a user: a short, friendly ephemeral message, never a traceback.

`guarded` wraps every listener (`Guard`). Bolt's own error handler is not enough after
`ack()`: when a listener fails quickly after acknowledging, Bolt (1.30) can drop the
acknowledgement and answer Slack 404, so listeners must not raise. `tell_user` is shared
with the global `@app.error` handler in `bot.app`, which still covers failures outside
listeners.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.errors import PeerPulseError
from handlers.followups import ANSWERING, Followups

log = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "Sorry, PeerPulse hit a problem on its side and could not finish that. "
    "Nothing was counted twice; please try again in a minute."
)


def user_message(error: BaseException) -> str:
    return str(error) if isinstance(error, PeerPulseError) else GENERIC_FAILURE


def tell_user(error: BaseException, body: dict[str, Any], respond: Any, client: WebClient
              ) -> None:
    """Log ``error`` and tell the person who caused the request, as privately as possible."""
    if isinstance(error, PeerPulseError):
        log.info("refused: %s", error)
    else:
        log.error("unhandled error", exc_info=error)
    text = user_message(error)
    try:
        if body.get("response_url") and respond is not None:
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        if not user:
            return
        channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)
    except Exception:
        log.exception("could not tell the user about an error")


class Guard:
    """Decorates listeners so that no exception escapes them (see the module docstring).

    ``guard(listener)`` runs it on Bolt's listener thread. ``guard.after_ack(listener)``
    acknowledges at once and runs the listener after the ack, on the followup threads
    (`handlers.followups`), so that acks never wait behind earlier requests' work; its
    failures reach the person the same way. ``guard.later(work, ...)`` does the same for
    the part of a listener that follows its own ``ack()``.
    """

    def __init__(self, client: WebClient, followups: Followups | None = None) -> None:
        self.client, self.followups = client, followups

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return self._wrap(func, after_ack=False)

    def after_ack(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return self._wrap(func, after_ack=True)

    def later(self, work: Callable[[], Any], body: dict[str, Any], respond: Any,
              client: WebClient | None = None) -> None:
        """Do ``work`` after the ack (on a followup thread when there are any); a failure
        is told to the person who made the request."""

        def run() -> None:
            try:
                work()
            except Exception as error:
                tell_user(error, body, respond, client or self.client)

        if self.followups is None:
            run()
        else:
            self.followups.submit(run)

    def _wrap(self, func: Callable[..., Any], after_ack: bool) -> Callable[..., Any]:
        """The wrapper asks Bolt for what the listener asks for, plus ``ack``, ``body``,
        ``respond`` and ``client`` so it can acknowledge and answer when the listener
        fails, and ``context`` to say when the request was answered."""
        own = list(inspect.signature(func).parameters)
        wanted = own + [n for n in ("ack", "body", "respond", "client", "context")
                        if n not in own]

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            ack = kwargs.get("ack")
            # The request's own client (its tenant's token), else the process's.
            client = kwargs.get("client") or self.client
            body, respond = kwargs.get("body") or {}, kwargs.get("respond")

            # Once acknowledged (or the listener done), this request no longer holds back
            # the work after acks (`handlers.followups`, "acks come first").
            answering = (kwargs.get("context") or {}).get(ANSWERING)

            def answered() -> None:
                if answering is not None:
                    answering.done()

            def acknowledged() -> None:
                try:
                    if ack is not None and getattr(ack, "response", None) is None:
                        ack()
                finally:
                    answered()

            def run() -> Any:
                return func(**{k: v for k, v in kwargs.items() if k in own})

            if after_ack:
                acknowledged()
                self.later(run, body, respond, client)
                return None
            try:
                return run()
            except Exception as error:
                acknowledged()
                tell_user(error, body, respond, client)
                return None
            finally:
                answered()

        del wrapper.__wrapped__  # Bolt must see the signature below, not func's
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in wanted])
        return wrapper


def guarded(client: WebClient, followups: Followups | None = None) -> Guard:
    """The `Guard` of listeners that use ``client`` (and ``followups``, when given)."""
    return Guard(client, followups)
