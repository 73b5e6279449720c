"""Block Kit actions in poll DMs (the people picker, "Nobody this time", pause and resume)
and in champions' nudges (Done, Snooze, Not useful under each suggestion).

Each listener acks, then (after the ack, `handlers.followups`) hands the click to
`bot.services.polls` and replaces the poll message in place with the thank-you it renders.
Refusals (answered already, closed, naming oneself or a bot) reach the person as an
ephemeral message through `handlers.errors`.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import ui
from bot.services import Services, champions, polls
from handlers.errors import guarded
from handlers.followups import Followups
from handlers.tenant import bound


def _request_id(action: dict[str, Any]) -> int:
    return polls.request_id_from(action.get("block_id"), action.get("value"))


def _replace_message(client: WebClient, body: dict[str, Any], result: polls.Answered) -> None:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if channel and ts:
        client.chat_update(channel=channel, ts=ts, **ui.answered_message(result))


def register(app: App, services: Services, followups: Followups | None = None
             ) -> None:
    guard = guarded(services.client, followups)
    register_suggestions(app, services, followups)

    @app.action(ui.POLL_PICK)
    @guard.after_ack
    def pick(body: dict[str, Any], action: dict[str, Any], client: WebClient,
             context: BoltContext) -> None:
        result = bound(services, context).call(
            polls.submit_answer, _request_id(action), body["user"]["id"],
            named=action.get("selected_users") or [])
        _replace_message(client, body, result)

    @app.action(ui.POLL_NOBODY)
    @guard.after_ack
    def nobody(body: dict[str, Any], action: dict[str, Any], client: WebClient,
               context: BoltContext) -> None:
        result = bound(services, context).call(
            polls.submit_answer, _request_id(action), body["user"]["id"], nobody=True)
        _replace_message(client, body, result)

    @app.action(ui.POLL_PAUSE)
    @guard.after_ack
    def pause(body: dict[str, Any], action: dict[str, Any], client: WebClient,
              context: BoltContext) -> None:
        result = bound(services, context).call(
            polls.submit_pause, _request_id(action), body["user"]["id"])
        _replace_message(client, body, result)

    @app.action(ui.POLL_RESUME)
    @guard.after_ack
    def resume(body: dict[str, Any], action: dict[str, Any], client: WebClient,
               context: BoltContext) -> None:
        result = bound(services, context).call(
            polls.submit_pause, _request_id(action), body["user"]["id"], paused=False)
        _replace_message(client, body, result)


# Champion nudges: Done / Snooze / Not useful ------------------------------------------

def register_suggestions(app: App, services: Services, followups: Followups | None = None
                         ) -> None:
    """The three buttons under each suggestion of a champion's nudge: the answer is
    recorded (the next nudges use it) and the buttons give way to what was recorded."""
    guard = guarded(services.client, followups)

    def answer(body: dict[str, Any], action: dict[str, Any], client: WebClient,
               context: BoltContext) -> None:
        suggestion = champions.suggestion_id_from(action.get("block_id"), action.get("value"))
        said = bound(services, context).call(
            champions.answer_suggestion, suggestion, body["user"]["id"],
            ui.SUGGESTION_ACTIONS[action["action_id"]])
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        if channel and message.get("ts"):
            client.chat_update(channel=channel, ts=message["ts"],
                               text=message.get("text") or "Your PeerPulse nudge",
                               blocks=ui.suggestion_answered(message.get("blocks") or [],
                                                             said.suggestion_id, said.answer))

    for action_id in ui.SUGGESTION_ACTIONS:
        app.action(action_id)(guard.after_ack(answer))
