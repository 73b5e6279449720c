"""Kudos rules that must hold on SQLite and PostgreSQL alike: the text a giver types is
stored as typed (emoji codes, unknown #words), reasons that show nothing are refused, the
daily cap holds under concurrency, a repeated kudos counts once, ids are escaped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot.app import build_services, identify_workspace
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.models import Person, Tie
from bot.services import Services, kudos, roster
from bot.services.kudos import KudosDraft, KudosRejected
from bot.ui import kudos_confirmation

CAP = 20
PEOPLE = [f"U{i:03d}" for i in range(45)]


def humans(ids: list[str]) -> list[dict[str, object]]:
    return [{"id": u, "name": f"p{u}", "deleted": False, "is_bot": False} for u in ids]


def wire(database_url: str, sandbox: SlackSandbox, **env: str) -> Iterator[Services]:
    """The real services against ``sandbox``, its workspace learned and roster synced."""
    settings = load_settings(None, DATABASE_URL=database_url, SLACK_BOT_TOKEN=sandbox.token,
                             SLACK_API_URL=sandbox.base_url, **env)
    wired = build_services(settings)
    identify_workspace(wired)
    wired.call(roster.sync)
    yield wired
    wired.sessions.kw["bind"].dispose()


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sb:
        sb.add_users(humans(PEOPLE))
        yield sb


@pytest.fixture
def services(database_url: str, sandbox: SlackSandbox) -> Iterator[Services]:
    yield from wire(database_url, sandbox, PEERPULSE_KUDOS_VALUES="teamwork,craft",
                    PEERPULSE_KUDOS_DAILY_CAP=str(CAP))


def give(services: Services, giver: str, text: str, key: str) -> kudos.KudosGiven:
    return services.call(kudos.from_command, giver=giver, text=text, request_key=key)


def stored(services: Services, giver: str) -> list[tuple[str, str | None, str | None]]:
    target = aliased(Person)
    source = aliased(Person)
    with services.sessions() as s:
        rows = s.execute(select(target.slack_id, Tie.reason, Tie.value)
                         .join(target, Tie.target_id == target.id)
                         .join(source, Tie.source_id == source.id)
                         .where(source.slack_id == giver).order_by(Tie.id))
        return [(str(t), r, v) for t, r, v in rows]


@pytest.mark.parametrize(("typed", "reason"), [
    (":tada:", ":tada:"),
    (": :tada: for the launch :rocket:", ":tada: for the launch :rocket:"),
    ("- thanks :+1::skin-tone-2:", "thanks :+1::skin-tone-2:"),
    ("for the fix:", "for the fix"),
])
def test_emoji_codes_at_either_end_are_kept(services: Services, typed: str,
                                             reason: str) -> None:
    give(services, "U001", f"<@U002|b> {typed}", "k1")
    assert stored(services, "U001") == [("U002", reason, None)]


def test_a_hashtag_that_is_not_a_value_stays_in_the_reason(services: Services) -> None:
    give(services, "U001", "<@U002|b> for shipping #release-42 on time", "k1")
    give(services, "U003", "<@U004|d> for the review #Craft #inbox-zero", "k2")
    assert stored(services, "U001") == [("U002", "for shipping #release-42 on time", None)]
    assert stored(services, "U003") == [("U004", "for the review #inbox-zero", "craft")]


@pytest.mark.parametrize("blank", ["\u200b", "\u200b\u200c\u200d\u2060\ufeff", " \u3164 ",
                                   "\u00a0\u2800", "\u0301\u034f"])
def test_a_reason_that_shows_nothing_is_refused(services: Services, blank: str) -> None:
    with pytest.raises(KudosRejected, match="Add a reason") as command:
        give(services, "U001", f"<@U002|b> {blank}", "k1")
    assert command.value.field == "reason"
    draft = KudosDraft(giver="U001", recipients=("U002",), reason=blank, value=None,
                       request_key="view-1")
    with pytest.raises(KudosRejected, match="Add a reason"):
        services.call(kudos.from_modal, draft)
    assert stored(services, "U001") == []


def test_a_nul_byte_is_dropped_the_same_way_on_every_database(services: Services) -> None:
    give(services, "U001", "<@U002|b> for the\x00 fix\x07", "k1")
    draft = KudosDraft(giver="U003", recipients=("U004",), reason="late\x00 night\r\nhelp",
                       value=None, request_key="view-1")
    services.call(kudos.from_modal, draft)
    assert stored(services, "U001") == [("U002", "for the fix", None)]
    assert stored(services, "U003") == [("U004", "late night\nhelp", None)]
    # The durable record of a /kudos holds its text: NUL must not fail there either.
    assert services.call(kudos.receive_command, giver="U005", text="<@U006> a\x00b",
                         request_key="k3")


def test_forged_ids_are_escaped_in_what_the_giver_is_told(services: Services) -> None:
    forged = "UX> <!channel> <https://evil.example|click"
    draft = KudosDraft(giver="U001", recipients=(forged,), reason="thanks", value=None,
                       request_key="view-1")
    with pytest.raises(KudosRejected) as refused:
        services.call(kudos.from_modal, draft)
    assert "<!channel>" not in str(refused.value) and "<https" not in str(refused.value)
    assert "&lt;!channel&gt;" in str(refused.value)
    bad_value = KudosDraft(giver="U001", recipients=("U002",), reason="thanks",
                           value="<!here>", request_key="view-2")
    with pytest.raises(KudosRejected) as value:
        services.call(kudos.from_modal, bad_value)
    assert "<!here>" not in str(value.value) and value.value.field == "value"


def test_the_same_kudos_given_again_soon_counts_once(services: Services) -> None:
    first = give(services, "U001", "<@U002|b> <@U003|c> for the demo", "trigger-1")
    again = give(services, "U001", "<@U002|b> <@U003|c> for the demo", "trigger-2")
    other = give(services, "U001", "<@U002|b> for the retro", "trigger-3")
    assert first.outcome.stored == ["U002", "U003"]
    assert again.outcome.duplicate and sorted(again.outcome.already) == ["U002", "U003"]
    assert not again.keys, "nothing is announced twice"
    assert other.outcome.stored == ["U002"]
    assert len(stored(services, "U001")) == 3


def test_the_daily_cap_holds_for_concurrent_kudos_from_one_giver(services: Services) -> None:
    recipients = PEOPLE[1:40]  # 39 kudos at once from U000, cap 20
    start = threading.Barrier(len(recipients))

    def one(r: str) -> str:
        start.wait()
        try:
            give(services, "U000", f"<@{r}|x> for the help", f"trigger-{r}")
            return "stored"
        except KudosRejected as exc:
            assert "daily limit is 20" in str(exc)
            return "capped"

    with ThreadPoolExecutor(len(recipients)) as pool:
        results = list(pool.map(one, recipients))
    assert results.count("stored") == CAP and results.count("capped") == len(recipients) - CAP
    with services.sessions() as s:
        assert s.scalar(select(func.count(Tie.id))) == CAP


def test_two_people_thanking_each_other_at_once_never_deadlock(services: Services) -> None:
    pairs = [(PEOPLE[i], PEOPLE[i + 1]) for i in range(0, 20, 2)]
    start = threading.Barrier(2 * len(pairs))

    def one(giver: str, r: str) -> None:
        start.wait()
        give(services, giver, f"<@{r}|x> <@{PEOPLE[44]}|z> for pairing", f"t-{giver}")

    with ThreadPoolExecutor(2 * len(pairs)) as pool:
        futures = [pool.submit(one, a, b) for a, b in pairs] + \
            [pool.submit(one, b, a) for a, b in pairs]
        for f in futures:
            f.result()
    with services.sessions() as s:
        assert s.scalar(select(func.count(Tie.id))) == 4 * len(pairs)


def test_the_could_not_deliver_warning_mentions_the_person(
        services: Services, sandbox: SlackSandbox) -> None:
    sandbox.fail("chat.postMessage", 503, times=None)
    given = give(services, "U001", "<@U002|b> for the fix", "k1")
    assert services.delivery is not None
    said = services.delivery.deliver_now(given.keys, budget=0.5)
    text = kudos_confirmation(given, said)
    assert "couldn't deliver the DM to <@U002>" in text
    assert "&lt;@" not in text and "I'll keep trying" in text
