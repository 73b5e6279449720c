"""The local Slack sandbox answers the real slack_sdk WebClient the way Slack does."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from bot.devkit.sandbox import BOT_USER_ID, DEFAULT_CHANNEL_ID, SlackSandbox


def person(uid: str, *, deleted: bool = False, is_bot: bool = False) -> dict[str, Any]:
    return {
        "id": uid,
        "team_id": "T0SANDBOX",
        "name": uid.lower(),
        "real_name": f"Person {uid}",
        "deleted": deleted,
        "is_bot": is_bot,
        "is_app_user": False,
        "tz": "Europe/London",
        "profile": {
            "email": f"{uid.lower()}@example.com",
            "display_name": uid,
            "real_name": f"Person {uid}",
            "title": "Engineer",
        },
    }


@pytest.fixture
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox(max_page_size=4) as sb:
        sb.add_users([person(f"UP{i:03d}") for i in range(10)])
        sb.add_users([person("UGONE", deleted=True), person("UJIRA", is_bot=True)])
        yield sb


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    return WebClient(token=sandbox.token, base_url=sandbox.base_url, retry_handlers=[])


def test_base_url_ends_in_api_and_auth_test_names_the_bot(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    assert sandbox.base_url.endswith("/api/")
    answer = client.auth_test()
    assert answer["user_id"] == BOT_USER_ID
    assert answer["team_id"] == "T0SANDBOX"
    assert sandbox.calls("auth.test")[0].headers["authorization"] == f"Bearer {sandbox.token}"


def test_users_list_pages_are_capped_below_limit_and_follow_the_cursor(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    pages = [page["members"] for page in client.users_list(limit=200)]
    ids = [m["id"] for page in pages for m in page]
    assert len(pages) == 4  # 14 members, at most 4 a page although limit is 200
    assert all(len(page) <= 4 for page in pages)
    assert len(ids) == len(set(ids)) == 14
    assert {"USLACKBOT", BOT_USER_ID, "UGONE", "UJIRA"} <= set(ids)
    slackbot = next(m for page in pages for m in page if m["id"] == "USLACKBOT")
    assert slackbot["is_bot"] is False
    cursors = [c.params.get("cursor", "") for c in sandbox.calls("users.list")]
    assert cursors[0] == "" and all(cursors[1:])


def test_a_bad_cursor_is_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.users_list(cursor="not-a-cursor")
    assert err.value.response["error"] == "invalid_cursor"


def test_token_errors(sandbox: SlackSandbox) -> None:
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=sandbox.base_url).auth_test()
    assert missing.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=sandbox.base_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    assert wrong.value.response.status_code == 200


def test_unknown_method_answers_200_with_ok_false(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.api_call("admin.nonsense.do")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "unknown_method"


def test_files_upload_v1_is_retired(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.api_call("files.upload", params={"channels": DEFAULT_CHANNEL_ID})
    assert err.value.response["error"] == "method_deprecated"


def test_rate_limit_is_honoured_by_slack_sdk_retry_handler(sandbox: SlackSandbox) -> None:
    client = WebClient(
        token=sandbox.token,
        base_url=sandbox.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    sandbox.fail("chat.postMessage", 429, retry_after=1)
    started = time.monotonic()
    answer = client.chat_postMessage(channel="UP001", text="hello")
    assert time.monotonic() - started >= 0.9
    calls = sandbox.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].error == "ratelimited"
    assert len(sandbox.messages("UP001")) == 1
    assert answer["channel"] == sandbox.dm_channel("UP001")


def test_429_without_retry_handler_surfaces_retry_after(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    sandbox.fail("users.info", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="UP001")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert client.users_info(user="UP001")["user"]["id"] == "UP001"


def test_server_errors_are_answered_and_retried(sandbox: SlackSandbox) -> None:
    sandbox.fail("conversations.open", 503)
    sandbox.fail("conversations.open", 500)
    bare = WebClient(token=sandbox.token, base_url=sandbox.base_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as err:
        bare.conversations_open(users="UP002")
    assert err.value.response.status_code == 503
    retrying = WebClient(
        token=sandbox.token,
        base_url=sandbox.base_url,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    retrying.conversations_open(users="UP002")
    assert [c.status for c in sandbox.calls("conversations.open")] == [503, 500, 200]


def test_error_only_faults_answer_200_ok_false(sandbox: SlackSandbox, client: WebClient) -> None:
    sandbox.fail("chat.postMessage", error="fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="UP001", text="x")
    client.chat_postMessage(channel="UP001", text="x")
    assert [c.status for c in sandbox.calls("chat.postMessage")] == [200, 200, 200]
    assert [c.ok for c in sandbox.calls("chat.postMessage")] == [False, False, True]


def test_rate_limit_fraction_is_deterministic(sandbox: SlackSandbox) -> None:
    sandbox.rate_limit("api.test", 0.3, seed=1)
    client = WebClient(token=sandbox.token, base_url=sandbox.base_url, retry_handlers=[])
    statuses = []
    for _ in range(200):
        try:
            client.api_test()
            statuses.append(200)
        except SlackApiError as err:
            statuses.append(err.response.status_code)
            assert err.response.headers["Retry-After"] == "1"
    limited = statuses.count(429) / len(statuses)
    assert 0.2 < limited < 0.4
    sandbox.clear_faults()
    sandbox.reset_calls()
    sandbox.rate_limit("api.test", 0.3, seed=1)
    again = []
    for _ in range(200):
        try:
            client.api_test()
            again.append(200)
        except SlackApiError as err:
            again.append(err.response.status_code)
    assert again == statuses


def test_delay_slows_a_method(sandbox: SlackSandbox, client: WebClient) -> None:
    sandbox.delay("auth.test", 0.2, times=1)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started < 0.2


def test_a_delay_after_posts_first_and_answers_late(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    sandbox.delay("chat.postMessage", 0.5, times=1, after=True)
    done = threading.Thread(target=client.chat_postMessage,
                            kwargs={"channel": DEFAULT_CHANNEL_ID, "text": "slow"})
    started = time.monotonic()
    done.start()
    sandbox.wait_for(lambda: sandbox.messages(DEFAULT_CHANNEL_ID), timeout=0.4)
    assert time.monotonic() - started < 0.5, "posted before the answer"
    done.join()
    assert time.monotonic() - started >= 0.5
    assert [m["text"] for m in sandbox.messages(DEFAULT_CHANNEL_ID)] == ["slow"]


def test_conversations_open_is_stable_and_refuses_disabled_and_bots(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    first = client.conversations_open(users="UP003")["channel"]["id"]
    assert client.conversations_open(users=["UP003"])["channel"]["id"] == first
    assert first.startswith("D") and first == sandbox.dm_channel("UP003")
    assert client.conversations_open(users="UP003,UP004")["channel"]["id"] != first
    for user, error in [
        ("UGONE", "user_disabled"),
        ("UJIRA", "cannot_dm_bot"),
        ("UNOBODY", "user_not_found"),
    ]:
        with pytest.raises(SlackApiError) as err:
            client.conversations_open(users=user)
        assert err.value.response["error"] == error


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_records_and_validates(sandbox: SlackSandbox, client: WebClient) -> None:
    dm = client.conversations_open(users="UP005")["channel"]["id"]
    posted = client.chat_postMessage(
        channel=dm, text="Who helped you?", blocks=[{"type": "divider"}]
    )
    by_user = client.chat_postMessage(channel="UP005", text="again")
    assert by_user["channel"] == dm and float(by_user["ts"]) > float(posted["ts"])
    client.chat_postMessage(channel=DEFAULT_CHANNEL_ID, text="public")
    assert [m["text"] for m in sandbox.messages(dm)] == ["Who helped you?", "again"]
    assert [m["text"] for m in sandbox.messages("UP005")] == ["Who helped you?", "again"]
    assert len(sandbox.messages()) == 3
    failures = [
        ({"channel": dm}, "no_text"),
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "UGONE", "text": "x"}, "user_disabled"),
        ({"channel": dm, "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        (
            {
                "channel": dm,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            },
            "invalid_blocks",
        ),
    ]
    for kwargs, error in failures:
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(**kwargs)
        assert err.value.response["error"] == error, kwargs
    assert len(sandbox.messages()) == 3


def test_form_encoded_blocks_are_parsed(sandbox: SlackSandbox, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    client.api_call(
        "chat.postMessage",
        params={"channel": "UP001", "blocks": json.dumps(blocks)},
    )
    assert sandbox.messages("UP001")[0]["blocks"] == blocks


def test_update_delete_and_ephemeral(sandbox: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="UP006", text="Pick someone")
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Thanks!")
    [message] = sandbox.messages("UP006")
    assert message["text"] == "Thanks!"
    assert message["previous_versions"] == [{"text": "Pick someone"}]
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    assert sandbox.messages("UP006") == []
    client.chat_postEphemeral(channel=DEFAULT_CHANNEL_ID, user="UP006", text="only you")
    assert sandbox.ephemerals(user="UP006")[0]["text"] == "only you"
    with pytest.raises(SlackApiError) as err:
        client.chat_postEphemeral(channel=DEFAULT_CHANNEL_ID, user="UNOBODY", text="x")
    assert err.value.response["error"] == "user_not_found"


def test_users_info_lookup_by_email_and_usergroups(
    sandbox: SlackSandbox, client: WebClient
) -> None:
    assert client.users_info(user="UP007")["user"]["profile"]["title"] == "Engineer"
    found = client.users_lookupByEmail(email="UP007@example.com")
    assert found["user"]["id"] == "UP007"
    with pytest.raises(SlackApiError) as err:
        client.users_lookupByEmail(email="nobody@example.com")
    assert err.value.response["error"] == "users_not_found"
    sandbox.add_usergroup("S0TEAM", ["UP001", "UP002", "UGONE"])
    assert client.usergroups_users_list(usergroup="S0TEAM")["users"] == ["UP001", "UP002"]
    with pytest.raises(SlackApiError) as err:
        client.usergroups_users_list(usergroup="S0NONE")
    assert err.value.response["error"] == "no_such_subteam"


def test_views_open_update_publish(sandbox: SlackSandbox, client: WebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "kudos",
        "title": {"type": "plain_text", "text": "Give kudos"},
        "blocks": [
            {
                "type": "input",
                "block_id": "who",
                "label": {"type": "plain_text", "text": "Who"},
                "element": {"type": "multi_users_select", "action_id": "users"},
            }
        ],
    }
    trigger = f"{int(time.time() * 1000)}.1.UP001.abc"
    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    assert opened["callback_id"] == "kudos"
    assert sandbox.views(user="UP001")[0]["id"] == opened["id"]
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**modal, "callback_id": "kudos2"}
    )
    assert updated["view"]["id"] == opened["id"]
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=opened["id"], hash="stale", view=modal)
    assert err.value.response["error"] == "hash_conflict"
    stale = f"{int((time.time() - 10) * 1000)}.2.UP001.abc"
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=stale, view=modal)
    assert err.value.response["error"] == "expired_trigger_id"
    too_long = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=trigger, view=too_long)
    assert err.value.response["error"] == "invalid_arguments"
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    client.views_publish(user_id="UP001", view=home)
    client.views_publish(user_id="UP001", view=home)
    published = sandbox.home("UP001")
    assert published is not None and published["blocks"] == home["blocks"]
    assert sandbox.views() == sandbox.views(user="UP001")  # homes are not modals


def test_files_upload_v2_stores_bytes(sandbox: SlackSandbox, client: WebClient) -> None:
    client.conversations_open(users="UP001")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    answer = client.files_upload_v2(
        file_uploads=[
            {"content": png, "filename": "network.png", "title": "Network"},
            {"content": "id,name\nU1,Ann\n", "filename": "people.csv", "title": "People"},
        ],
        channel=sandbox.dm_channel("UP001"),
        initial_comment="Your snapshot",
    )
    assert len(answer["files"]) == 2
    files = {f["filename"]: f for f in sandbox.files("UP001")}
    assert files["network.png"]["content"] == png
    assert files["people.csv"]["content"] == b"id,name\nU1,Ann\n"
    assert files["people.csv"]["title"] == "People"
    assert files["network.png"]["initial_comment"] == "Your snapshot"
    assert [c.method for c in sandbox.calls()].count("upload") == 2


def test_missing_scope(sandbox: SlackSandbox) -> None:
    scoped = SlackSandbox(scopes=["chat:write"]).start()
    try:
        client = WebClient(token=scoped.token, base_url=scoped.base_url)
        with pytest.raises(SlackApiError) as err:
            client.users_list()
        assert err.value.response["error"] == "missing_scope"
        assert err.value.response["needed"] == "users:read"
    finally:
        scoped.stop()


def test_response_url_records_posts(sandbox: SlackSandbox) -> None:
    url = sandbox.response_url("cmd-1")
    webhook = WebhookClient(url)
    assert webhook.send(text="Working on it", response_type="ephemeral").status_code == 200
    assert webhook.send(blocks=[{"type": "divider"}]).status_code == 200
    posted = sandbox.responses("cmd-1")
    assert posted[0] == {"text": "Working on it", "response_type": "ephemeral"}
    assert len(posted) == 2
    for _ in range(3):
        webhook.send(text="more")
    assert webhook.send(text="sixth").status_code == 404  # five uses at most
    assert len(sandbox.responses("cmd-1")) == 5


def test_concurrent_posts_are_all_recorded(sandbox: SlackSandbox) -> None:
    def post(i: int) -> None:
        c = WebClient(token=sandbox.token, base_url=sandbox.base_url)
        c.chat_postMessage(channel=f"UP{i % 10:03d}", text=str(i))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    messages = sandbox.messages()
    assert sorted(int(m["text"]) for m in messages) == list(range(40))
    assert len({m["ts"] for m in messages}) == 40


def test_dump_writes_what_was_posted(
    sandbox: SlackSandbox, client: WebClient, tmp_path: Path
) -> None:
    client.chat_postMessage(channel="UP001", text="hello")
    client.files_upload_v2(content="a,b\n", filename="t.csv", channel=DEFAULT_CHANNEL_ID)
    WebhookClient(sandbox.response_url("k")).send(text="later")
    doc = json.loads(sandbox.dump(tmp_path / "out" / "slack.json").read_text())
    assert doc["messages"][0]["text"] == "hello"
    assert doc["files"][0]["size"] == 4
    assert doc["responses"]["k"] == [{"text": "later"}]
    assert doc["calls_per_method"]["chat.postMessage"] == 1


def test_plain_urllib_get_with_query_token(sandbox: SlackSandbox) -> None:
    url = f"{sandbox.base_url}users.info?token={sandbox.token}&user=UP001"
    with urllib.request.urlopen(url) as answer:
        assert json.loads(answer.read())["user"]["id"] == "UP001"


def test_wait_for_returns_the_value_or_times_out(sandbox: SlackSandbox) -> None:
    assert sandbox.wait_for(lambda: [1], timeout=0.1) == [1]
    with pytest.raises(TimeoutError):
        sandbox.wait_for(lambda: sandbox.messages("UP001"), timeout=0.05)
