"""Kudos end to end: signed requests to the running bot, answers read from the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bot.devkit.sandbox import DEFAULT_CHANNEL_ID, SlackSandbox
from bot.devkit.simulation import Organisation, simulate_organisation
from bot.models import Person, Tie
from tests.e2e.conftest import Stack, launch, wait_for_roster, wait_until

pytestmark = pytest.mark.slow

KUDOS_CHANNEL = DEFAULT_CHANNEL_ID
DAILY_CAP = 6
GROUP_ID = "SKUDOSCREW"


def group_members(org: Organisation) -> list[str]:
    return [p.id for p in org.people[-5:]]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One bot for the module (starting one takes seconds); tests use distinct people."""
    org = simulate_organisation(n_people=60, n_teams=4, seed=11)
    workdir = tmp_path_factory.mktemp("kudos")
    with SlackSandbox(max_page_size=25) as sandbox:
        sandbox.add_users(org.users)
        for gid, members in org.usergroups.items():
            sandbox.add_usergroup(gid, members)
        sandbox.add_usergroup(GROUP_ID, group_members(org))
        s = launch(sandbox, org, workdir, PEERPULSE_KUDOS_CHANNEL=KUDOS_CHANNEL,
                   PEERPULSE_KUDOS_DAILY_CAP=str(DAILY_CAP), PEERPULSE_REACTION_KUDOS="true",
                   PEERPULSE_KUDOS_REASON_MAX="200")
        wait_for_roster(s)
        yield s
        s.bot.stop()
        s.engine.dispose()


class People:
    """Hands out fresh people so tests sharing one bot never collide."""

    def __init__(self, org: Organisation) -> None:
        reserved = set(org.deleted) | set(group_members(org))
        self._ids = iter(p.id for p in org.people[1:] if p.id not in reserved)

    def take(self, n: int = 1) -> list[str]:
        return [next(self._ids) for _ in range(n)]


@pytest.fixture(scope="module")
def people(stack: Stack) -> People:
    return People(stack.org)


def ties(stack: Stack, source: str | None = None) -> list[tuple[str, str, str, str | None,
                                                                 str | None]]:
    src, tgt = aliased(Person), aliased(Person)
    with Session(stack.engine) as s:
        q = (select(src.slack_id, tgt.slack_id, Tie.origin, Tie.reason, Tie.value)
             .join(src, Tie.source_id == src.id).join(tgt, Tie.target_id == tgt.id)
             .order_by(Tie.id))
        if source:
            q = q.where(src.slack_id == source)
        return [tuple(r) for r in s.execute(q)]  # type: ignore[misc]


def reply(stack: Stack, resp: Any, timeout: float = 5.0) -> str:
    """The ephemeral answer the bot sent to a command's response_url."""
    posted = stack.sandbox.wait_for(lambda: stack.sandbox.responses(resp.response_key),
                                    timeout=timeout)
    assert posted[-1].get("response_type", "ephemeral") == "ephemeral"
    return str(posted[-1]["text"])


def kudos(stack: Stack, giver: str, text: str, timeout: float = 5.0, **kw: Any) -> str:
    resp = stack.slack.slash_command("/kudos", text, giver, **kw)
    assert resp.status == 200
    return reply(stack, resp, timeout)


def m(uid: str) -> str:
    return f"<@{uid}|someone>"


def test_help_is_shown_for_bare_kudos_and_for_help(stack: Stack, people: People) -> None:
    (giver,) = people.take()
    for text in ("", "help"):
        answer = kudos(stack, giver, text)
        assert "/kudos @alex" in answer and "#teamwork" in answer
    assert ties(stack, giver) == []


def test_kudos_to_two_people_stores_ties_dms_and_posts(stack: Stack, people: People) -> None:
    giver, a, b = people.take(3)
    answer = kudos(stack, giver, f"{m(a)} {m(b)} for untangling the release #teamwork")
    assert "Kudos sent to" in answer and f"<@{a}>" in answer and f"<@{b}>" in answer
    assert [t[1:] for t in ties(stack, giver)] == [
        (a, "kudos", "for untangling the release", "teamwork"),
        (b, "kudos", "for untangling the release", "teamwork")]
    for r in (a, b):
        dm = stack.sandbox.wait_for(lambda r=r: stack.sandbox.messages(r))
        assert f"<@{giver}>" in dm[-1]["text"] and "untangling" in dm[-1]["text"]
    post = stack.sandbox.wait_for(lambda: [x for x in stack.sandbox.messages(KUDOS_CHANNEL)
                                           if f"<@{giver}>" in x["text"]])
    assert len(post) == 1 and f"<@{a}>" in post[0]["text"] and "#teamwork" in post[0]["text"]


def test_user_groups_expand_to_their_members(stack: Stack, people: People) -> None:
    giver, extra = people.take(2)
    members = group_members(stack.org)
    kudos(stack, giver, f"<!subteam^{GROUP_ID}|@crew> {m(extra)} for the launch")
    got = {t[1] for t in ties(stack, giver)}
    assert got == set(members) | {extra}
    (big_gid, big) = max(stack.org.usergroups.items(), key=lambda kv: len(kv[1]))
    assert len(big) > 10
    assert "at most 10" in kudos(stack, giver, f"<!subteam^{big_gid}|@all> for everything")


@pytest.mark.parametrize("case", ["self", "bot", "slackbot", "deactivated", "unknown",
                                  "too many", "no reason", "long reason", "plain at"])
def test_rules_refuse_with_a_clear_message_and_store_nothing(
        stack: Stack, people: People, case: str) -> None:
    (giver,) = people.take()
    org = stack.org
    others = [p.id for p in org.people if p.id != giver][:11]
    text, expected = {
        "self": (f"{m(giver)} for me", "can't recognise yourself"),
        "bot": (f"{m(org.bots[0])} for deploying", "is a bot"),
        "slackbot": (f"{m('USLACKBOT')} for reminders", "is a bot"),
        "deactivated": (f"{m(org.deleted[0])} for the handover", "deactivated"),
        "unknown": (f"{m('UNOBODY42')} for nothing", "can't find"),
        "too many": (" ".join(m(o) for o in others) + " for everything", "at most 10"),
        "no reason": (f"{m(others[0])}", "Add a reason"),
        "long reason": (f"{m(others[0])} " + "x" * 201, "keep it under 200"),
        "plain at": ("@alex for help", "couldn't tell who @alex is"),
    }[case]
    answer = kudos(stack, giver, text)
    assert expected in answer
    assert "Traceback" not in answer
    assert ties(stack, giver) == []


def test_daily_cap(stack: Stack, people: People) -> None:
    giver, *rs = people.take(DAILY_CAP + 1)
    for r in rs[:DAILY_CAP]:
        assert "Kudos sent" in kudos(stack, giver, f"{m(r)} for the help")
    answer = kudos(stack, giver, f"{m(rs[-1])} one more")
    assert f"daily limit is {DAILY_CAP}" in answer
    assert len(ties(stack, giver)) == DAILY_CAP


def test_a_duplicated_command_counts_once(stack: Stack, people: People) -> None:
    giver, r = people.take(2)
    trigger = "dup-trigger-1"
    first = kudos(stack, giver, f"{m(r)} for pairing", trigger_id=trigger)
    second = kudos(stack, giver, f"{m(r)} for pairing", trigger_id=trigger)
    assert "Kudos sent" in first and "already recorded" in second
    assert len(ties(stack, giver)) == 1
    stack.sandbox.wait_for(lambda: stack.sandbox.messages(r))
    assert len(stack.sandbox.messages(r)) == 1


def test_user_text_is_escaped_everywhere(stack: Stack, people: People) -> None:
    giver, r = people.take(2)
    # Slack sends typed <, >, & escaped and @channel as <!channel>; a forged request may not.
    nasty = "<!channel> <script>alert(1)</script> &lt;b&gt; &amp; <!here|here>"
    kudos(stack, giver, f"{m(r)} for {nasty}")
    stored = ties(stack, giver)
    assert stored[0][3] == "for @channel <script>alert(1)</script> <b> & @here"
    dm = stack.sandbox.wait_for(lambda: stack.sandbox.messages(r))[-1]["text"]
    post = [x["text"] for x in stack.sandbox.messages(KUDOS_CHANNEL) if f"<@{giver}>" in x["text"]]
    stack.slack.app_home_opened(r)
    home = json.dumps(stack.sandbox.wait_for(lambda: stack.sandbox.home(r)))
    for text in (dm, *post, home):
        assert "<!channel>" not in text and "<!here" not in text and "<script>" not in text
        assert "&lt;script&gt;" in text and "&lt;b&gt;" in text and "&amp;" in text
        assert "&amp;lt;" not in text  # escaped once, not twice


def test_a_429_on_the_channel_post_still_stores_and_posts_once(stack: Stack,
                                                               people: People) -> None:
    giver, r = people.take(2)
    stack.sandbox.fail("chat.postMessage", 429, retry_after=1, times=1)
    answer = kudos(stack, giver, f"{m(r)} for staying late")
    assert "Kudos sent" in answer
    assert len(ties(stack, giver)) == 1
    posts = [x for x in stack.sandbox.messages(KUDOS_CHANNEL) if f"<@{giver}>" in x["text"]]
    assert len(posts) == 1
    assert len(stack.sandbox.messages(r)) == 1
    assert any(c.status == 429 for c in stack.sandbox.calls("chat.postMessage"))


def test_a_slack_outage_mid_send_keeps_the_kudos_and_says_so(stack: Stack,
                                                            people: People) -> None:
    giver, r = people.take(2)
    stack.sandbox.fail("chat.postMessage", 503, times=None)
    try:
        # every post is retried with backoff before the bot gives up on it
        answer = kudos(stack, giver, f"{m(r)} for the fix", timeout=30)
    finally:
        stack.sandbox.clear_faults("chat.postMessage")
    assert "Saved, but I couldn't deliver" in answer
    assert len(ties(stack, giver)) == 1


def open_modal(stack: Stack, user: str) -> dict[str, Any]:
    return stack.sandbox.wait_for(lambda: [v for v in stack.sandbox.views(user)
                                           if v.get("callback_id") == "kudos_modal"])[-1]


def state(users: list[str], reason: str, value: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "recipients": {"users": {"type": "multi_users_select", "selected_users": users}},
        "reason": {"text": {"type": "plain_text_input", "value": reason}},
    }
    if value:
        values["value"] = {"choice": {"type": "static_select",
                                      "selected_option": {"value": value}}}
    return values


def test_global_shortcut_opens_the_form_and_a_retried_submission_counts_once(
        stack: Stack, people: People) -> None:
    giver, a, b = people.take(3)
    assert stack.slack.shortcut("give_kudos", giver).status == 200
    modal = open_modal(stack, giver)
    blocks = {b["block_id"] for b in modal["blocks"]}
    assert {"recipients", "reason", "value"} <= blocks
    sub = state([a, b], "for the onboarding guide", "curiosity")
    first = stack.slack.view_submission(giver, "kudos_modal", sub, view=modal)
    again = stack.slack.view_submission(giver, "kudos_modal", sub, view=modal)
    assert first.status == 200 and again.status == 200
    assert not first.body and not again.body  # the modal closes: no errors
    assert sorted(t[1] for t in ties(stack, giver)) == sorted([a, b])
    stack.sandbox.wait_for(lambda: stack.sandbox.messages(b))
    assert len(stack.sandbox.messages(a)) == 1 and len(stack.sandbox.messages(b)) == 1
    # The retried submission's own "already recorded" may arrive first.
    confirm = stack.sandbox.wait_for(lambda: [x for x in stack.sandbox.messages(giver)
                                              if "Kudos sent" in x["text"]])
    assert len(confirm) == 1


def test_invalid_form_gets_inline_field_errors(stack: Stack, people: People) -> None:
    giver, r = people.take(2)
    stack.slack.shortcut("give_kudos", giver)
    modal = open_modal(stack, giver)
    resp = stack.slack.view_submission(giver, "kudos_modal", state([giver], "me!"), view=modal)
    assert resp.status == 200
    assert resp.json["response_action"] == "errors"
    assert "yourself" in resp.json["errors"]["recipients"]
    resp = stack.slack.view_submission(giver, "kudos_modal", state([r], "   "), view=modal)
    assert "reason" in resp.json["errors"]
    assert ties(stack, giver) == []


def test_message_shortcut_prefills_the_author(stack: Stack, people: People) -> None:
    giver, author = people.take(2)
    stack.slack.message_shortcut("kudos_for_message", giver, author, "here's the fix")
    modal = open_modal(stack, giver)
    picker = next(b for b in modal["blocks"] if b["block_id"] == "recipients")["element"]
    assert picker["initial_users"] == [author]
    stack.slack.view_submission(giver, "kudos_modal", state([author], "for the fix"),
                                view=modal)
    assert [t[1] for t in ties(stack, giver)] == [author]
    stack.sandbox.wait_for(lambda: stack.sandbox.ephemerals(user=giver))


def test_reaction_kudos_count_once_and_removal_removes(stack: Stack, people: People) -> None:
    reactor, author = people.take(2)
    ts = "1700000001.000200"
    stack.slack.reaction(reactor, "clap", author, message_ts=ts, event_id="EvR1")
    stack.slack.reaction(reactor, "clap", author, message_ts=ts, event_id="EvR1", retry_num=1)
    stack.slack.reaction(reactor, "thumbsup", author, message_ts=ts, event_id="EvR2")
    wait_until(lambda: len(ties(stack, reactor)) == 1, what="reaction tie")
    assert ties(stack, reactor)[0][2] == "reaction"
    stack.slack.reaction(author, "clap", author, message_ts=ts, event_id="EvR3")  # own message
    stack.slack.reaction(reactor, "clap", author, message_ts=ts, removed=True, event_id="EvR4")
    wait_until(lambda: ties(stack, reactor) == [], what="reaction removal")
    assert ties(stack, author) == []


def test_app_home_shows_kudos_given_and_received(stack: Stack, people: People) -> None:
    giver, r = people.take(2)
    kudos(stack, giver, f"{m(r)} for the demo prep #ownership")
    stack.slack.app_home_opened(r)
    home = stack.sandbox.wait_for(lambda: stack.sandbox.home(r))
    text = json.dumps(home)
    assert "received *1* kudos" in text and f"<@{giver}>" in text and "demo prep" in text
    stack.slack.app_home_opened(giver)
    home = stack.sandbox.wait_for(lambda: stack.sandbox.home(giver))
    assert "gave *1*" in json.dumps(home)


def test_reaction_kudos_are_off_by_default(start_stack: Any, org: Organisation,
                                           tmp_path: Path) -> None:
    stack = start_stack()
    wait_for_roster(stack)
    a, b = org.people[3].id, org.people[4].id
    stack.slack.reaction(a, "clap", b, event_id="EvOFF")
    kudos(stack, a, f"{m(b)} proves the bot is listening")
    assert [t[2] for t in ties(stack, a)] == ["kudos"]
