"""Slash commands: `/kudos` and `/network` (and the buttons of the messages they answer with).

Slow `/network` subcommands are acknowledged at once and done in a Bolt lazy listener.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.errors import NotAProgrammeOwner
from bot.rendering import render
from bot.services import Services, polls, settings_form
from bot.services import kudos as kudos_service
from bot.services import network as network_service
from bot.ui import FORGET_CONFIRM, forget_confirm_blocks, settings_modal
from handlers.delivery import send_snapshot
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    register_kudos(app, services)
    register_network(app, services)


def register_kudos(app: App, services: Services) -> None:
    guard = guarded(services.client)

    def kudos_help(respond: Respond) -> None:
        prefs = kudos_service.programme_settings(services)
        respond(response_type="ephemeral", text=render(
            "kudos_help.j2", values=prefs.kudos_values, reason_max=prefs.kudos_reason_max,
            daily_cap=prefs.kudos_daily_cap, max_recipients=kudos_service.MAX_RECIPIENTS))

    @app.command("/kudos")
    @guard
    def kudos(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        text = str(command.get("text") or "")
        if text.strip().lower() in ("", "help", "?"):
            kudos_help(respond)
            return
        try:
            outcome, said, prefs = kudos_service.kudos_from_command(
                services, giver=command["user_id"], text=text,
                request_key=str(command.get("trigger_id") or command.get("response_url")))
        except kudos_service.NeedsHelp:
            kudos_help(respond)
            return
        respond(response_type="ephemeral", text=render(
            "kudos_confirm.j2", duplicate=outcome.duplicate, stored=outcome.stored,
            already=outcome.already, reason=outcome.reason, value=outcome.value,
            channel=prefs.kudos_channel if said.channel_ts else None, failed=said.failed))


OWNER_ONLY = {"snapshot", "champions", "compare", "person", "champion", "settings"}
SLOW = {"snapshot", "champions", "compare", "person"}
WORKING = {"snapshot": "your network snapshot", "champions": "champion recommendations",
           "compare": "the comparison with the previous period", "person": "that ego network"}


def _split(command: dict[str, Any]) -> tuple[str, list[str]]:
    words = str(command.get("text") or "").split()
    return (words[0].lower() if words else "help"), words[1:]


def _mentioned(args: list[str]) -> str:
    ids = kudos_service.MENTION.findall(" ".join(args))
    if len(ids) != 1:
        raise network_service.BadRequest("Mention exactly one person, e.g. `@alex`.")
    return str(ids[0])


def register_network(app: App, services: Services) -> None:
    guard = guarded(services.client)

    @guard
    def network_ack(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient
                    ) -> None:
        sub, args = _split(command)
        user = command["user_id"]
        if sub in OWNER_ONLY and not services.is_owner(user):
            ack(response_type="ephemeral", text=str(NotAProgrammeOwner()))
            return
        if sub in SLOW:
            ack(response_type="ephemeral", text=render("network_working.j2", what=WORKING[sub]))
            return
        if sub == "settings":
            prefs = settings_form.current_settings(services, user)
            questions = {k: q.text for k, q in polls.QUESTIONS.items()}
            client.views_open(trigger_id=command["trigger_id"],
                              view=settings_modal(prefs, questions))
            ack()
            return
        ack()
        if sub == "champion":
            if not args or args[0].lower() not in ("add", "remove"):
                raise network_service.BadRequest(
                    "Use `/network champion add @someone` or `/network champion remove @someone`.")
            who = _mentioned(args[1:])
            on = args[0].lower() == "add"
            network_service.change_champion(services, user, who, on)
            respond(response_type="ephemeral", text=render(
                "network_simple.j2", what="champion_on" if on else "champion_off", who=who))
        elif sub in ("optout", "optin"):
            network_service.set_opt_out(services, user, sub == "optout")
            respond(response_type="ephemeral", text=render("network_simple.j2", what=sub))
        elif sub == "mydata":
            respond(response_type="ephemeral",
                    text=render("network_mydata.j2", d=network_service.my_data(services, user)))
        elif sub == "forgetme":
            respond(response_type="ephemeral", text=render("network_simple.j2",
                                                           what="forget_confirm"),
                    blocks=forget_confirm_blocks())
        else:
            if sub not in ("help", "?"):
                respond(response_type="ephemeral",
                        text=f"I don't know `/network {sub}`. Here's what I can do:")
            respond(response_type="ephemeral",
                    text=render("network_help.j2", owner=services.is_owner(user)))

    @guard
    def network_work(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        # Runs after the acknowledgement (a Bolt lazy listener): may take a while.
        sub, args = _split(command)
        user = command["user_id"]
        if sub not in SLOW or not services.is_owner(user):
            return
        if sub == "snapshot":
            days = network_service.parse_days(args[0], 0) if args else None
            send_snapshot(services, client, user, days)
            respond(response_type="ephemeral",
                    text=":white_check_mark: Snapshot sent to your DM with PeerPulse.")
        elif sub == "champions":
            k = network_service.parse_count(args[0]) if args else None
            c = network_service.champions(services, user, k)
            p = c["picks"]
            respond(response_type="ephemeral", text=render(
                "network_champions.j2", k=c["k"], rec=p["recommended"], cur=p["current"],
                top=p["top_degree"], rnd=p["random"], names=c["names"], gain=c["gain"],
                people=c["people"]))
        elif sub == "compare":
            c = network_service.compare(services, user)
            respond(response_type="ephemeral", text=render(
                "network_compare.j2", days=c["days"], d=c["diff"], names=c["names"]))
        elif sub == "person":
            e = network_service.ego(services, user, _mentioned(args))
            respond(response_type="ephemeral", text=render("network_person.j2", e=e))

    app.command("/network")(ack=network_ack, lazy=[network_work])

    @app.action(FORGET_CONFIRM)
    @guard
    def forget_confirmed(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        n = network_service.forget_me(services, body["user"]["id"])
        respond(response_type="ephemeral", replace_original=True,
                text=render("network_simple.j2", what="forgotten", n=n))
