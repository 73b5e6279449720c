"""The sandbox's several workspaces and organisations, its OAuth v2 flow and per-token scoping."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devkit.sandbox import SlackSandbox


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _person(uid: str, team: str) -> dict[str, object]:
    return {"id": uid, "team_id": team, "name": uid.lower(), "real_name": uid, "deleted": False,
            "is_bot": False, "profile": {"real_name": uid, "email": f"{uid.lower()}@x.test"}}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sb:
        sb.add_team("TA", "Org A")
        sb.add_team("TG1", "Grid one", enterprise_id="EG", enterprise_name="Grid Corp")
        sb.add_team("TG2", "Grid two", enterprise_id="EG")
        sb.add_users([_person("UA1", "TA"), _person("UG1", "TG1"), _person("UG2", "TG2")])
        yield sb


def _install(sb: SlackSandbox, target: str, redirect: str = "http://app.test/cb"
             ) -> dict[str, object]:
    query = urlencode({"client_id": sb.tenants.client_id, "scope": "chat:write,users:read",
                       "state": "s-1", "redirect_uri": redirect, "team": target})
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect_answer:
        opener.open(f"{sb.authorize_url}?{query}")
    location = redirect_answer.value.headers["Location"]
    back = parse_qs(urlsplit(location).query)
    assert location.startswith(redirect) and back["state"] == ["s-1"]
    answer = WebClient(base_url=sb.base_url).oauth_v2_access(
        client_id=sb.tenants.client_id, client_secret=sb.tenants.client_secret,
        code=back["code"][0], redirect_uri=redirect)
    return dict(answer.data)  # type: ignore[arg-type]


def test_a_workspace_install_gives_a_token_that_sees_only_that_workspace(
        sandbox: SlackSandbox) -> None:
    answer = _install(sandbox, "TA")
    assert answer["team"] == {"id": "TA", "name": "Org A"}
    assert answer["is_enterprise_install"] is False and answer["enterprise"] is None
    client = WebClient(token=str(answer["access_token"]), base_url=sandbox.base_url)
    assert client.auth_test()["team_id"] == "TA"
    assert [m["id"] for m in client.users_list()["members"]] == ["UA1"]
    with pytest.raises(SlackApiError) as refused:
        client.users_info(user="UG1")
    assert refused.value.response["error"] == "user_not_found"
    # The default token keeps its behaviour: every member.
    default = WebClient(token=sandbox.token, base_url=sandbox.base_url)
    assert {"UA1", "UG1", "UG2"} <= {m["id"] for m in default.users_list()["members"]}


def test_an_org_wide_install_sees_every_workspace_of_its_organisation(
        sandbox: SlackSandbox) -> None:
    answer = _install(sandbox, "EG")
    assert answer["team"] is None and answer["enterprise"] == {"id": "EG", "name": "Grid Corp"}
    assert answer["is_enterprise_install"] is True
    client = WebClient(token=str(answer["access_token"]), base_url=sandbox.base_url)
    assert client.auth_test()["is_enterprise_install"] is True
    teams = [t["id"] for t in client.auth_teams_list()["teams"]]
    assert teams == ["TG1", "TG2"]
    with pytest.raises(SlackApiError) as refused:
        client.users_list()
    assert refused.value.response["error"] == "missing_argument"
    assert [m["id"] for m in client.users_list(team_id="TG2")["members"]] == ["UG2"]
    posted = client.chat_postMessage(channel="UG1", text="hi")
    assert posted["message"]["team"] == "TG1"
    with pytest.raises(SlackApiError):
        client.users_info(user="UA1")


def test_a_code_works_once_and_needs_the_app_secret(sandbox: SlackSandbox) -> None:
    query = urlencode({"client_id": sandbox.tenants.client_id, "scope": "chat:write",
                       "state": "x", "redirect_uri": "http://app.test/cb", "team": "TA"})
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect_answer:
        opener.open(f"{sandbox.authorize_url}?{query}")
    code = parse_qs(urlsplit(redirect_answer.value.headers["Location"]).query)["code"][0]
    api = WebClient(base_url=sandbox.base_url)
    with pytest.raises(SlackApiError) as bad_secret:
        api.oauth_v2_access(client_id=sandbox.tenants.client_id, client_secret="nope", code=code)
    assert bad_secret.value.response["error"] == "bad_client_secret"
    api.oauth_v2_access(client_id=sandbox.tenants.client_id,
                        client_secret=sandbox.tenants.client_secret, code=code)
    with pytest.raises(SlackApiError) as reused:
        api.oauth_v2_access(client_id=sandbox.tenants.client_id,
                            client_secret=sandbox.tenants.client_secret, code=code)
    assert reused.value.response["error"] == "invalid_code"


def test_uninstalling_revokes_the_tokens_and_gives_the_event(sandbox: SlackSandbox) -> None:
    answer = _install(sandbox, "TA")
    client = WebClient(token=str(answer["access_token"]), base_url=sandbox.base_url)
    client.auth_test()
    assert sandbox.uninstall("TA") == {"type": "app_uninstalled"}
    with pytest.raises(SlackApiError) as refused:
        client.auth_test()
    assert refused.value.response["error"] == "token_revoked"
    again = _install(sandbox, "TA")
    assert again["access_token"] != answer["access_token"]
    event = sandbox.revoke_tokens("TA")
    assert event["type"] == "tokens_revoked" and event["tokens"]["bot"]
