"""The one delivery path (`bot.services.delivery`): messages and files queued in a unit of
work, posted at once for someone waiting, and never lost when Slack fails meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import db
from bot.app import build_services, identify_workspace
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.models import OutboxMessage
from bot.services import Services, Unit
from bot.services.delivery import file_message, message_key
from bot.services.outbox import FAILED, SENT, Outgoing


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sb:
        sb.add_users([{"id": f"U{i:03d}", "name": f"p{i}", "deleted": False, "is_bot": False}
                      for i in range(5)])
        sb.add_users([{"id": "UGONE", "name": "gone", "deleted": True, "is_bot": False}])
        yield sb


@pytest.fixture
def services(database_url: str, sandbox: SlackSandbox) -> Iterator[Services]:
    settings = load_settings(None, DATABASE_URL=database_url, SLACK_BOT_TOKEN=sandbox.token,
                             SLACK_API_URL=sandbox.base_url)
    wired = build_services(settings)
    identify_workspace(wired)
    yield wired
    wired.sessions.kw["bind"].dispose()


def hello(uow: Unit, users: list[str], fail: bool = False) -> list[str]:
    """A use case that queues one DM per user, then maybe fails (and so rolls back)."""
    keys = uow.send(Outgoing(f"hello:{u}", u, f"hello {u}") for u in users)
    if fail:
        raise RuntimeError("the use case failed after queueing")
    return keys


def statuses(services: Services) -> dict[str, str]:
    with services.sessions() as s:
        rows = s.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))
        return {str(k): str(v) for k, v in rows}


def test_messages_commit_with_the_unit_of_work_or_not_at_all(
        services: Services, sandbox: SlackSandbox) -> None:
    with pytest.raises(RuntimeError):
        services.call(hello, ["U001"], fail=True)
    assert statuses(services) == {}
    keys = services.call(hello, ["U001", "U002"])
    assert statuses(services) == {k: "pending" for k in keys}
    assert sandbox.messages() == [], "queued, not posted, until someone delivers them"


def test_deliver_now_posts_in_order_and_reports_each_message(
        services: Services, sandbox: SlackSandbox) -> None:
    keys = services.call(hello, ["U001", "U002", "UGONE"])
    report = services.deliver_now(keys)
    assert list(report.sent) == keys[:2] and all(report.sent.values())
    assert report.failed == {keys[2]: "user_disabled"} and report.waiting == []
    assert [m["text"] for m in sandbox.messages("U001")] == ["hello U001"]
    again = services.deliver_now(keys)
    assert again.sent == report.sent, "delivering twice posts nothing more"
    assert len(sandbox.calls("chat.postMessage")) == 3


def test_a_429_within_the_budget_is_waited_out_at_once(
        services: Services, sandbox: SlackSandbox) -> None:
    sandbox.fail("chat.postMessage", 429, retry_after=1, times=1)
    keys = services.call(hello, ["U001"])
    report = services.deliver_now(keys)
    assert report.ok(keys[0])
    assert [c.status for c in sandbox.calls("chat.postMessage")] == [429, 200]


def test_an_outage_leaves_the_message_queued_and_the_sender_delivers_it_later(
        services: Services, sandbox: SlackSandbox) -> None:
    assert services.delivery is not None
    sandbox.fail("chat.postMessage", 503, times=None)
    keys = services.call(hello, ["U003"])
    report = services.delivery.deliver_now(keys, budget=1.0)
    assert report.waiting == keys and not report.sent
    sandbox.clear_faults("chat.postMessage")
    with services.sessions() as s:  # fast-forward the backoff
        row = s.scalars(select(OutboxMessage)).one()
        row.next_attempt_at = row.created_at
        s.commit()
    services.delivery.drain(timeout=20)
    assert statuses(services) == {keys[0]: SENT}
    assert [m["text"] for m in sandbox.messages("U003")] == ["hello U003"]


def test_files_go_through_the_outbox_to_the_dm(
        services: Services, sandbox: SlackSandbox, tmp_path: Path) -> None:
    report_file = tmp_path / "report.html"
    report_file.write_text("<h1>ok</h1>")
    gone = tmp_path / "gone.csv"
    messages = [file_message("files:1", "U001", [report_file], "Your files"),
                file_message("files:2", "U002", [gone], "Never written")]
    report = services.send_now(messages)
    assert list(report.sent) == ["files:1"]
    assert report.failed["files:2"].startswith("file gone")
    uploaded = sandbox.files("U001")
    assert [(f["filename"], f["content"]) for f in uploaded] == [
        ("report.html", b"<h1>ok</h1>")]
    assert statuses(services) == {"files:1": SENT, "files:2": FAILED}


def test_message_keys_stay_within_the_column() -> None:
    long = message_key("kudos-post", "kudos", "x" * 300, "U1,U2")
    assert len(long) == 191 and long != message_key("kudos-post", "kudos", "x" * 300, "U1")


def test_without_a_running_sender_nothing_is_lost(database_url: str) -> None:
    # CLI wiring without Slack: messages wait in the outbox for the bot.
    settings = load_settings(None, DATABASE_URL=database_url)
    db.upgrade(database_url)
    wired = build_services(settings)
    wired.delivery = None
    assert wired.deliver_now(["k"]).waiting == ["k"]
