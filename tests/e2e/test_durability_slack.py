"""No data lost when Slack is slow or fails after posting, or when kudos arrive as the bot
starts, on SQLite and PostgreSQL (split from test_durability.py so pytest-xdist, which keeps
a file on one worker, can run the two halves side by side)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import Organisation
from bot.models import Person
from tests.bot.test_outbox import manifest_scopes
from tests.e2e.conftest import Stack, wait_for_roster, wait_until
from tests.e2e.test_durability import active, kudos_ties, outbox

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(org: Organisation) -> Iterator[SlackSandbox]:
    """Slack as the bot really has it: only the scopes manifest.yml asks for."""
    with SlackSandbox(max_page_size=15, scopes=manifest_scopes()) as sb:
        sb.add_users(org.users)
        yield sb


# ------------------------------------------------------------------ item 9: a slow Slack

def test_a_kudos_dm_that_times_out_is_not_posted_twice_and_the_giver_is_told_the_truth(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        database_url: str) -> None:
    stack = start_stack(database_url)
    wait_for_roster(stack)
    giver, r, other = active(org)[:3]
    # Slack posts the DM but answers after the client's 30 s timeout.
    sandbox.delay("chat.postMessage", 31, times=1)
    resp = stack.slack.slash_command("/kudos", f"<@{r}|x> for the migration", giver)
    assert resp.status == 200
    answer = sandbox.wait_for(lambda: sandbox.responses(resp.response_key), timeout=60)[-1]
    assert "Saved, but I couldn't deliver the DM to " + f"<@{r}>" in answer["text"]
    assert "I'll keep trying" in answer["text"] and "try again" not in answer["text"]
    # The background sender finds the DM Slack did post, and records it.
    wait_until(lambda: outbox(stack) == {"sent": 1}, timeout=60, what="the DM recorded")
    assert len(sandbox.messages(r)) == 1
    # The giver retries anyway: it counts once and nobody is messaged again.
    again = stack.slack.slash_command("/kudos", f"<@{r}|x> for the migration", giver)
    text = sandbox.wait_for(lambda: sandbox.responses(again.response_key), timeout=20)[-1]
    assert "already recorded" in text["text"]
    # A post Slack made and then answered 500 is not posted again either.
    sandbox.fail("chat.postMessage", 500, after=True, times=1)
    third = stack.slack.slash_command("/kudos", f"<@{other}|x> for the review", giver)
    text = sandbox.wait_for(lambda: sandbox.responses(third.response_key), timeout=30)[-1]
    assert "Kudos sent" in text["text"]
    wait_until(lambda: outbox(stack) == {"sent": 2}, timeout=30, what="both DMs recorded")
    assert len(sandbox.messages(r)) == 1 and len(sandbox.messages(other)) == 1
    assert kudos_ties(stack) == Counter({(giver, r, "for the migration"): 1,
                                         (giver, other, "for the review"): 1})


def test_the_kudos_forms_confirmation_is_not_posted_again_by_client_retries(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        database_url: str) -> None:
    stack = start_stack(database_url)
    wait_for_roster(stack)
    giver, author = active(org)[:2]
    stack.slack.message_shortcut("kudos_for_message", giver, author, "here's the fix")
    modal = sandbox.wait_for(lambda: [v for v in sandbox.views(giver)
                                      if v.get("callback_id") == "kudos_modal"])[-1]
    # Slack shows the giver the confirmation, then answers 500.
    sandbox.fail("chat.postEphemeral", 500, after=True, times=None)
    values = {"recipients": {"users": {"type": "multi_users_select",
                                       "selected_users": [author]}},
              "reason": {"text": {"type": "plain_text_input", "value": "for the fix"}}}
    assert stack.slack.view_submission(giver, "kudos_modal", values, view=modal).status == 200
    # Unsure whether the giver saw it, the bot tells them by DM too: never a loss...
    wait_until(lambda: any("Kudos sent" in m["text"] for m in sandbox.messages(giver)),
               timeout=20, what="the confirmation by DM")
    # ...but the post Slack made is not made again by the client's own retries.
    assert len(sandbox.ephemerals(user=giver)) == 1
    assert len(sandbox.calls("chat.postEphemeral")) == 1


# ------------------------------------------------------------------ item 11: start-up race

def test_kudos_sent_as_the_bot_starts_all_count_while_the_roster_syncs(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        database_url: str) -> None:
    # The first roster sync is slow (each users.list page takes 0.3 s), so kudos sent the
    # moment /healthz answers create people (users.info) while the sync creates them too.
    sandbox.delay("users.list", 0.3)
    stack = start_stack(database_url)
    people = active(org)
    pairs = list(zip(people[:20], people[20:40], strict=True))

    def send(pair: tuple[str, str]) -> str:
        giver, r = pair
        resp = stack.slack.slash_command("/kudos", f"<@{r}|x> for the first day", giver)
        assert resp.status == 200
        return str(sandbox.wait_for(lambda: sandbox.responses(resp.response_key),
                                    timeout=30)[-1]["text"])

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, pairs))
    wait_for_roster(stack)
    assert [a for a in answers if "Kudos sent" not in a] == []
    assert kudos_ties(stack) == Counter({(g, r, "for the first day"): 1 for g, r in pairs})
    with Session(stack.engine) as s:
        assert s.scalar(select(func.count(Person.id))) == len(org.people) + len(org.deleted)
