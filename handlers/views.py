"""Modal submissions: the kudos form and the owners' settings."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.rendering import render
from bot.services import Services, settings_form
from bot.services import kudos as kudos_service
from bot.services.outbox import Outgoing
from bot.ui import (
    KUDOS_MODAL,
    SETTINGS_MODAL,
    kudos_confirmation,
    read_kudos_modal,
    read_settings_modal,
)
from handlers.errors import guarded
from handlers.followups import Followups
from handlers.tenant import bound


def _without_retries(client: WebClient) -> WebClient:
    """Bolt's client without its retry handlers, for a post: Slack may post and still
    answer 500 or time out, and retrying would post the same message again."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[])


def register(app: App, services: Services, followups: Followups | None = None
             ) -> None:
    guard = guarded(services.client)

    @app.view(KUDOS_MODAL)
    @guard
    def kudos_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any],
                        client: WebClient, context: BoltContext) -> None:
        svc = bound(services, context)
        giver = body["user"]["id"]
        users, reason, value, meta = read_kudos_modal(view)
        draft = kudos_service.KudosDraft(
            giver=giver, recipients=tuple(users), reason=reason, value=value,
            request_key=str(view.get("id")), channel=meta.get("channel"))
        try:
            given = svc.call(kudos_service.from_modal, draft)
        except kudos_service.KudosRejected as exc:
            # Inline field errors keep the form open with what the giver typed.
            ack(response_action="errors", errors={exc.field: str(exc)[:150]})
            return
        ack()
        text = kudos_confirmation(given, svc.deliver_now(given.keys))
        try:
            if meta.get("channel"):
                _without_retries(client).chat_postEphemeral(channel=meta["channel"],
                                                             user=giver, text=text)
                return
        except SlackApiError:
            pass  # e.g. the bot is not in that channel: tell the giver in their DM instead
        said = "again" if given.outcome.duplicate else "stored"
        svc.send_now([Outgoing(key=f"kudos-confirm:{draft.request_key}:{said}",
                                    channel=giver, text=text)])

    @app.view(SETTINGS_MODAL)
    @guard
    def settings_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any],
                           context: BoltContext) -> None:
        svc = bound(services, context)
        owner = body["user"]["id"]
        changed, errors = svc.call(settings_form.save_settings, owner,
                                        read_settings_modal(view))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        svc.send_now([Outgoing(
            key=f"settings-saved:{view.get('id')}:{view.get('hash')}",
            channel=owner,
            text=render("network_simple.j2", what="settings_saved", changed=sorted(changed)))])
