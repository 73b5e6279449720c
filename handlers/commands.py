"""Slash commands: `/kudos` and `/network` (and the buttons of the messages they answer with).

`/network` subcommands are one table, `NETWORK`: each entry names the subcommand, whether
only programme owners may use it, whether it is slow (acknowledged at once with what it is
working on, then done in a Bolt lazy listener), and ``run``, which reads the arguments,
calls the use case and renders its template. A new subcommand is one entry plus its use
case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.errors import NotAProgrammeOwner
from bot.rendering import render
from bot.services import Services, polls, settings_form
from bot.services import champions as champions_service
from bot.services import kudos as kudos_service
from bot.services import network as network_service
from bot.services import settings as programme
from bot.ui import FORGET_CONFIRM, forget_confirm_blocks, kudos_confirmation, settings_modal
from handlers.errors import guarded
from handlers.followups import Followups
from handlers.tenant import bound


def register(app: App, services: Services, followups: Followups | None = None
             ) -> None:
    register_kudos(app, services, followups)
    register_network(app, services)


# /kudos --------------------------------------------------------------------------------

def register_kudos(app: App, services: Services, followups: Followups | None = None
                   ) -> None:
    guard = guarded(services.client, followups)

    def kudos_help(svc: Services, respond: Respond) -> None:
        prefs = svc.call(programme.current)
        respond(response_type="ephemeral", text=render(
            "kudos_help.j2", values=prefs.kudos_values, reason_max=prefs.kudos_reason_max,
            daily_cap=prefs.kudos_daily_cap, max_recipients=kudos_service.MAX_RECIPIENTS))

    @app.command("/kudos")
    @guard
    def kudos(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext
              ) -> None:
        svc = bound(services, context)
        text = str(command.get("text") or "")
        if text.strip().lower() in ("", "help", "?"):
            ack()
            kudos_help(svc, respond)
            return
        giver = command["user_id"]
        key = str(command.get("trigger_id") or command.get("response_url"))
        # Recorded before the acknowledgement: Slack never retries a slash command, so a
        # crash after it must not lose the kudos (the next start finishes it).
        svc.call(kudos_service.receive_command, giver=giver, text=text, request_key=key)
        ack()

        def carry_out() -> None:
            answer = kudos_service.carry_out(svc, giver=giver, text=text, request_key=key,
                                             abandon_on_error=True)
            if answer.given is not None:
                respond(response_type="ephemeral", text=kudos_confirmation(
                    answer.given, svc.deliver_now(answer.given.keys)))
            elif answer.refused is not None:
                respond(response_type="ephemeral", text=answer.refused)
            else:
                kudos_help(svc, respond)
            svc.call(kudos_service.forget_request, key)

        guard.later(carry_out, command, respond)


# /network ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One `/network` command, as the subcommand's ``run`` sees it."""

    services: Services
    user: str
    args: list[str]
    command: dict[str, Any]
    client: WebClient


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Subcommand:
    """One `/network` subcommand.

    ``working``: the subcommand is slow; the acknowledgement says what it is working on and
    ``run`` happens after it. ``before_ack``: ``run`` must happen before the acknowledgement
    (it opens a modal, whose trigger id expires in 3 seconds) and replies nothing.
    """

    name: str
    run: Callable[[Request], Reply | None]
    owner_only: bool = False
    working: str | None = None
    before_ack: bool = False


def _mentioned(args: list[str]) -> str:
    ids = kudos_service.MENTION.findall(" ".join(args))
    if len(ids) != 1:
        raise network_service.BadRequest("Mention exactly one person, e.g. `@alex`.")
    return str(ids[0])


def _simple(what: str, **context: Any) -> Reply:
    return Reply(render("network_simple.j2", what=what, **context))


def _help(req: Request) -> Reply:
    return Reply(render("network_help.j2", owner=req.services.is_owner(req.user)))


def _snapshot(req: Request) -> Reply:
    days = network_service.parse_days(req.args[0], 0) if req.args else None
    sent = req.services.call(network_service.send_snapshot, req.user, days)
    req.services.deliver_now(sent.keys)
    return Reply(":white_check_mark: Snapshot sent to your DM with PeerPulse.")


def _champions(req: Request) -> Reply:
    k = network_service.parse_count(req.args[0]) if req.args else None
    c = network_service.ask(req.services, network_service.champions, req.user, k)
    p = c["picks"]
    effect = req.services.call(champions_service.champion_effect, req.user)
    return Reply(render("network_champions.j2", k=c["k"], rec=p.recommended,
                        cur=p.current, top=p.top_degree, rnd=p.random,
                        names=c["names"], gain=c["gain"], people=c["people"],
                        fresh=c["freshness"])
                 + "\n\n" + render("champion_effect.j2", r=effect))


def _compare(req: Request) -> Reply:
    c = network_service.ask(req.services, network_service.compare, req.user)
    return Reply(render("network_compare.j2", days=c["days"], d=c["diff"], names=c["names"],
                        fresh=c["freshness"]))


def _person(req: Request) -> Reply:
    e = network_service.ask(req.services, network_service.ego, req.user, _mentioned(req.args))
    return Reply(render("network_person.j2", e=e, fresh=e["freshness"]))


def _champion(req: Request) -> Reply:
    if not req.args or req.args[0].lower() not in ("add", "remove"):
        raise network_service.BadRequest(
            "Use `/network champion add @someone` or `/network champion remove @someone`.")
    who = _mentioned(req.args[1:])
    on = req.args[0].lower() == "add"
    req.services.call(champions_service.change_champion, req.user, who, on)
    return _simple("champion_on" if on else "champion_off", who=who)


def _settings(req: Request) -> None:
    prefs = req.services.call(settings_form.current_settings, req.user)
    questions = {k: q.text for k, q in polls.QUESTIONS.items()}
    req.client.views_open(trigger_id=req.command["trigger_id"],
                          view=settings_modal(prefs, questions))


def _opt(out: bool) -> Callable[[Request], Reply]:
    def run(req: Request) -> Reply:
        req.services.call(network_service.set_opt_out, req.user, out)
        return _simple("optout" if out else "optin")
    return run


def _mydata(req: Request) -> Reply:
    return Reply(render("network_mydata.j2",
                        d=req.services.call(network_service.my_data, req.user)))


def _forgetme(req: Request) -> Reply:
    return Reply(render("network_simple.j2", what="forget_confirm"),
                 blocks=forget_confirm_blocks())


NETWORK: dict[str, Subcommand] = {s.name: s for s in (
    Subcommand("help", _help),
    Subcommand("snapshot", _snapshot, owner_only=True, working="your network snapshot"),
    Subcommand("champions", _champions, owner_only=True,
               working="champion recommendations"),
    Subcommand("compare", _compare, owner_only=True,
               working="the comparison with the previous period"),
    Subcommand("person", _person, owner_only=True, working="that ego network"),
    Subcommand("champion", _champion, owner_only=True),
    Subcommand("settings", _settings, owner_only=True, before_ack=True),
    Subcommand("optout", _opt(True)),
    Subcommand("optin", _opt(False)),
    Subcommand("mydata", _mydata),
    Subcommand("forgetme", _forgetme),
)}
NETWORK["?"] = NETWORK["help"]


def _split(command: dict[str, Any]) -> tuple[str, list[str]]:
    words = str(command.get("text") or "").split()
    return (words[0].lower() if words else "help"), words[1:]


def register_network(app: App, services: Services) -> None:
    guard = guarded(services.client)

    def request(command: dict[str, Any], client: WebClient, context: BoltContext
                ) -> tuple[Subcommand | None, Request]:
        name, args = _split(command)
        return NETWORK.get(name), Request(bound(services, context), command["user_id"], args,
                                          command, client)

    def reply(respond: Respond, answer: Reply | None) -> None:
        if answer is not None:
            respond(response_type="ephemeral", text=answer.text, blocks=answer.blocks)

    @guard
    def network_ack(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient,
                    context: BoltContext) -> None:
        sub, req = request(command, client, context)
        if sub is None:
            ack()
            respond(response_type="ephemeral",
                    text=f"I don't know `/network {_split(command)[0]}`. "
                         "Here's what I can do:")
            reply(respond, _help(req))
            return
        if sub.owner_only and not services.is_owner(req.user):
            ack(response_type="ephemeral", text=str(NotAProgrammeOwner()))
            return
        if sub.working:
            ack(response_type="ephemeral", text=render("network_working.j2", what=sub.working))
            return
        if sub.before_ack:
            sub.run(req)
            ack()
            return
        ack()
        reply(respond, sub.run(req))

    @guard
    def network_work(command: dict[str, Any], respond: Respond, client: WebClient,
                     context: BoltContext) -> None:
        # Runs after the acknowledgement (a Bolt lazy listener): may take a while.
        sub, req = request(command, client, context)
        if sub is None or not sub.working:
            return
        if sub.owner_only and not services.is_owner(req.user):
            return
        reply(respond, sub.run(req))

    def slow(command: dict[str, Any]) -> bool:
        # Only an owner's slow subcommand needs a lazy listener: Bolt starts one (a copy of
        # the request and a thread) for every request its listener matches.
        sub = NETWORK.get(_split(command)[0])
        return bool(sub and sub.working and services.is_owner(str(command.get("user_id"))))

    app.command("/network", matchers=[slow])(ack=network_ack, lazy=[network_work])
    app.command("/network")(network_ack)

    @app.action(FORGET_CONFIRM)
    @guard
    def forget_confirmed(ack: Ack, body: dict[str, Any], respond: Respond,
                         context: BoltContext) -> None:
        ack()
        n = bound(services, context).call(network_service.forget_me, body["user"]["id"])
        respond(response_type="ephemeral", replace_original=True,
                text=render("network_simple.j2", what="forgotten", n=n))
