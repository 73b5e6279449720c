"""Installs through Slack's OAuth flow, end to end, and a test that tries to mix organisations.

The real bot runs in OAuth mode (SLACK_CLIENT_ID/SECRET, no SLACK_BOT_TOKEN). Two separate
organisations (A and B) and one Enterprise Grid organisation (two workspaces, installed
org-wide) install it over real HTTP: GET /slack/install → the sandbox's authorize page →
/slack/oauth_redirect with the code and the state → the bot calls oauth.v2.access. Signed
requests carrying one organisation's team id then never see or change another's people or
ties, each organisation is served with its own token, and an uninstall stops deliveries.
"""

from __future__ import annotations

import csv
import html
import io
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bot import db
from bot.cli import main
from bot.devkit.botprocess import BotProcess, free_port
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.signed_client import SignedClient
from bot.models import OutboxMessage, Person, Tie, Workspace
from bot.services.outbox import Outgoing, enqueue
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.slow

SECRET = "multi-workspace-signing-secret"
A_OWNER, B_OWNER, G_OWNER = "UAOWN", "UBOWN", "UGOWN"
A_PEOPLE = ["UA1", "UA2", "UA3", "UA4", "UA5"]
B_PEOPLE = ["UB1", "UB2", "UB3", "UB4", "UB5"]
G1_PEOPLE = ["UG11", "UG12", "UG13"]  # workspace TG1 of the Grid organisation EG
G2_PEOPLE = ["UG21", "UG22", "UG23"]  # workspace TG2 of EG


def member(uid: str, team: str) -> dict[str, Any]:
    return {"id": uid, "team_id": team, "name": uid.lower(), "real_name": f"Person {uid}",
            "deleted": False, "is_bot": False, "is_app_user": False, "tz": "Europe/London",
            "profile": {"real_name": f"Person {uid}", "display_name": uid, "email": "",
                        "title": ""}}


@dataclass
class Orgs:
    sandbox: SlackSandbox
    bot: BotProcess
    engine: Engine
    url: str
    a: SignedClient
    b: SignedClient
    g1: SignedClient
    g2: SignedClient
    env: dict[str, str]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def install(orgs: Orgs, target: str, installer: str) -> str:
    """Install the app in ``target`` (a team, or an enterprise: org-wide) as a browser would:
    the bot's install page, the sandbox's authorize page, the bot's redirect page. Returns
    the redirect page's text."""
    browser = urllib.request.build_opener(_NoRedirects)
    with browser.open(f"{orgs.bot.url}/slack/install") as page:
        body = page.read().decode()
        # Bolt's state cookie is Secure (Slack apps are served over HTTPS): a browser sends
        # it back to the redirect page; urllib's cookie jar would not over loopback HTTP.
        cookie = page.headers["Set-Cookie"].split(";")[0]
    found = re.search(r'href="([^"]*/oauth/v2/authorize[^"]*)"', body)
    assert found, body  # the install page's "Add to Slack" link
    link = html.unescape(found.group(1))
    assert link.startswith(orgs.sandbox.authorize_url)
    with pytest.raises(urllib.error.HTTPError) as redirect:  # 302 back to the bot
        browser.open(f"{link}&team={target}&user={installer}")
    assert redirect.value.code == 302
    back = redirect.value.headers["Location"]
    assert back.startswith(f"{orgs.bot.url}/slack/oauth_redirect?code=")
    with browser.open(urllib.request.Request(back, headers={"Cookie": cookie})) as done:
        assert done.status == 200
        return done.read().decode()


def tenant(orgs: Orgs, key: str) -> Workspace:
    with Session(orgs.engine) as s:
        ws = s.scalars(select(Workspace).where(Workspace.slack_team_id == key)).one()
        s.expunge(ws)
        return ws


def _roster_synced(orgs: Orgs, key: str) -> Callable[[], bool]:
    return lambda: tenant(orgs, key).roster_synced_at is not None


def people_of(orgs: Orgs, key: str) -> set[str]:
    with Session(orgs.engine) as s:
        return set(s.scalars(select(Person.slack_id).join(Workspace)
                             .where(Workspace.slack_team_id == key)))


def ties_of(orgs: Orgs, key: str) -> set[tuple[str, str]]:
    with Session(orgs.engine) as s:
        src = select(Person.slack_id).where(Person.id == Tie.source_id).scalar_subquery()
        tgt = select(Person.slack_id).where(Person.id == Tie.target_id).scalar_subquery()
        ws = select(Workspace.id).where(Workspace.slack_team_id == key).scalar_subquery()
        rows = s.execute(select(src, tgt).where(Tie.workspace_id == ws))
        return {(a, b) for a, b in rows}


def token_of(orgs: Orgs, target: str) -> str:
    live = [g for g in orgs.sandbox.grants(target) if not g.revoked]
    assert len(live) == 1
    return live[0].token


def reply(orgs: Orgs, resp: Any, timeout: float = 30) -> str:
    got = orgs.sandbox.wait_for(lambda: orgs.sandbox.responses(resp.response_key),
                                timeout=timeout)
    return str(got[-1].get("text"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def orgs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Orgs]:
    from tests.conftest import _POSTGRES_URL, _reset_postgres

    workdir = tmp_path_factory.mktemp("multi")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'bot.db'}"
    else:
        if not _POSTGRES_URL:
            pytest.skip("PostgreSQL leg: set PEERPULSE_TEST_POSTGRES_URL "
                        "(scripts/postgres.sh prints one)")
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    with SlackSandbox() as sandbox:
        sandbox.add_team("TA", "Org A")
        sandbox.add_team("TB", "Org B")
        sandbox.add_team("TG1", "Grid one", enterprise_id="EG", enterprise_name="Grid Corp")
        sandbox.add_team("TG2", "Grid two", enterprise_id="EG")
        sandbox.add_users([member(u, "TA") for u in [A_OWNER, *A_PEOPLE]]
                          + [member(u, "TB") for u in [B_OWNER, *B_PEOPLE]]
                          + [member(u, "TG1") for u in [G_OWNER, *G1_PEOPLE]]
                          + [member(u, "TG2") for u in G2_PEOPLE])
        port = free_port()
        env = {"SLACK_CLIENT_ID": sandbox.tenants.client_id,
               "SLACK_CLIENT_SECRET": sandbox.tenants.client_secret,
               "SLACK_REDIRECT_URI": f"http://127.0.0.1:{port}/slack/oauth_redirect",
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": sandbox.base_url,
               "DATABASE_URL": url, "PEERPULSE_OWNERS": f"{A_OWNER},{B_OWNER},{G_OWNER}",
               "PEERPULSE_DATA_DIR": str(workdir / "data"),
               "PEERPULSE_SEND_PER_MINUTE": "6000"}
        bot = BotProcess(env, log_path=workdir / "bot.log", cwd=workdir, port=port).start()

        def client(team: str, enterprise: str | None = None) -> SignedClient:
            return SignedClient(bot.url, SECRET, team, response_urls=sandbox,
                                enterprise_id=enterprise, enterprise_install=bool(enterprise))

        found = Orgs(sandbox, bot, db.make_engine(url), url, client("TA"), client("TB"),
                     client("TG1", "EG"), client("TG2", "EG"), env)
        try:
            for target, installer in (("TA", A_OWNER), ("TB", B_OWNER), ("EG", G_OWNER)):
                install(found, target, installer)
            for key in ("TA", "TB", "EG"):
                wait_until(_roster_synced(found, key), what=f"roster of {key}")
            yield found
        finally:
            bot.stop()
            found.engine.dispose()


def test_each_install_is_a_tenant_with_its_own_token_and_people(orgs: Orgs) -> None:
    a, b, g = tenant(orgs, "TA"), tenant(orgs, "TB"), tenant(orgs, "EG")
    assert a.active and b.active and g.active
    assert (g.is_enterprise_install, g.enterprise_id, a.is_enterprise_install) == (
        True, "EG", False)
    assert people_of(orgs, "TA") == {A_OWNER, *A_PEOPLE}
    assert people_of(orgs, "TB") == {B_OWNER, *B_PEOPLE}
    # An org-wide install: the people of both of its workspaces in one network.
    assert people_of(orgs, "EG") == {G_OWNER, *G1_PEOPLE, *G2_PEOPLE}
    with Session(orgs.engine) as s:
        stored = s.execute(text("SELECT team_id, enterprise_id, is_enterprise_install "
                                "FROM slack_bots")).all()
    assert {(t, e, bool(i)) for t, e, i in stored} == {
        ("TA", None, False), ("TB", None, False), (None, "EG", True)}
    # Each roster was read with that installation's own token.
    for target in ("TA", "TB", "EG"):
        assert any(c.token == token_of(orgs, target) for c in orgs.sandbox.calls("users.list"))


def test_kudos_in_each_organisation_stay_there_and_go_out_with_its_token(orgs: Orgs) -> None:
    ra = orgs.a.slash_command("/kudos", "<@UA2> thanks for the review #teamwork", "UA1")
    rb = orgs.b.slash_command("/kudos", "<@UB2> thanks for the help #teamwork", "UB1")
    assert ra.status == 200 and rb.status == 200
    assert "UA2" in reply(orgs, ra) and "UB2" in reply(orgs, rb)
    wait_until(lambda: ("UA1", "UA2") in ties_of(orgs, "TA")
               and ("UB1", "UB2") in ties_of(orgs, "TB"), what="both kudos stored")
    assert all(u.startswith("UA") for pair in ties_of(orgs, "TA") for u in pair)
    assert all(u.startswith("UB") for pair in ties_of(orgs, "TB") for u in pair)
    # The recipient's DM went out with their organisation's token, not the other's.
    posts = orgs.sandbox.calls("chat.postMessage")
    to_ua2 = [c for c in posts if c.params.get("channel") == "UA2" and c.ok]
    to_ub2 = [c for c in posts if c.params.get("channel") == "UB2" and c.ok]
    assert to_ua2 and {c.token for c in to_ua2} == {token_of(orgs, "TA")}
    assert to_ub2 and {c.token for c in to_ub2} == {token_of(orgs, "TB")}


def test_org_a_can_neither_see_nor_change_org_b(orgs: Orgs) -> None:
    before_b = ties_of(orgs, "TB")
    # Kudos naming someone of B, sent from A: refused, nothing stored anywhere.
    resp = orgs.a.slash_command("/kudos", "<@UB3> thanks #teamwork", "UA1")
    assert "UB3" not in {t for pair in ties_of(orgs, "TA") for t in pair}
    assert "can't find <@UB3> in this workspace" in reply(orgs, resp)
    # A's owner asks about B's person: unknown here.
    person = orgs.a.slash_command("/network", "person <@UB1>", A_OWNER)
    assert person.status == 200
    text_ = reply(orgs, person)
    assert "<@UB1> is not someone PeerPulse knows in this workspace" in text_, text_
    # ... and cannot make them a champion of anything.
    champion = orgs.a.slash_command("/network", "champion add <@UB1>", A_OWNER)
    assert "<@UB1>" in reply(orgs, champion)
    with Session(orgs.engine) as s:
        assert not s.scalar(select(func.count(Person.id)).where(
            Person.slack_id == "UB1", Person.is_champion.is_(True)))
        assert s.scalar(select(func.count(Person.id)).where(Person.slack_id == "UB1")) == 1
    assert ties_of(orgs, "TB") == before_b
    assert not people_of(orgs, "TA") & people_of(orgs, "TB")


def test_a_snapshot_of_a_holds_only_a(orgs: Orgs) -> None:
    resp = orgs.a.slash_command("/network", "snapshot", A_OWNER)
    assert resp.status == 200
    files = orgs.sandbox.wait_for(
        lambda: [f for f in orgs.sandbox.files(A_OWNER) if f["filename"] == "people.csv"],
        timeout=60)
    ids = {row["id"] for row in csv.DictReader(io.StringIO(files[-1]["content"].decode()))}
    assert ids and ids <= {A_OWNER, *A_PEOPLE}
    uploads = [c for c in orgs.sandbox.calls("files.completeUploadExternal") if c.ok]
    assert uploads and {c.token for c in uploads} == {token_of(orgs, "TA")}


def test_poll_answers_stay_in_their_organisation(orgs: Orgs, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    for name, value in orgs.env.items():
        monkeypatch.setenv(name, value)
    assert main(["poll", "send-now", "--team", "TB", "--sample", "1"]) == 0
    message = orgs.sandbox.wait_for(lambda: orgs.sandbox.messages("UB3"), timeout=30)[0]
    assert message["team"] == "TB"
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    kwargs: dict[str, Any] = {"block_id": actions["block_id"], "message_ts": message["ts"],
                              "channel_id": orgs.sandbox.dm_channel("UB3"), "message": message}
    # Naming someone of A from B: not a person here, nothing stored.
    orgs.b.block_action("UB3", "poll_pick", action_type="multi_users_select",
                        action={"selected_users": ["UA4"]}, **kwargs)
    orgs.b.block_action("UB3", "poll_pick", action_type="multi_users_select",
                        action={"selected_users": ["UB4"]}, **kwargs)
    wait_until(lambda: ("UB3", "UB4") in ties_of(orgs, "TB"), what="B's poll answer")
    assert not any("UA4" in pair for pair in ties_of(orgs, "TB"))
    assert not any("UB3" in pair for pair in ties_of(orgs, "TA"))


def test_cli_commands_pick_an_installed_tenant_and_use_its_token(
        orgs: Orgs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in orgs.env.items():
        monkeypatch.setenv(name, value)
    since = len(orgs.sandbox.calls("users.list"))
    assert main(["roster", "sync", "--team", "EG"]) == 0
    assert "7 people" in capsys.readouterr().out  # both workspaces of the organisation
    calls = orgs.sandbox.calls("users.list")[since:]
    assert {c.token for c in calls} == {token_of(orgs, "EG")}
    assert {c.params.get("team_id") for c in calls} == {"TG1", "TG2"}
    assert main(["roster", "sync"]) == 1  # several tenants: which one?
    assert "choose one with --team" in capsys.readouterr().err


def test_an_org_wide_install_makes_one_network_across_its_workspaces(orgs: Orgs) -> None:
    resp = orgs.g1.slash_command("/kudos", "<@UG21> thanks for the hand-over #teamwork",
                                 "UG11")
    assert "UG21" in reply(orgs, resp)
    wait_until(lambda: ("UG11", "UG21") in ties_of(orgs, "EG"), what="cross-workspace kudos")
    # From the other workspace of the organisation, the owner sees that person's ties.
    person = orgs.g2.slash_command("/network", "person <@UG11>", G_OWNER)
    text_ = reply(orgs, person)
    assert "Person UG11" in text_ or "UG11" in text_, text_
    posts = [c for c in orgs.sandbox.calls("chat.postMessage")
             if c.params.get("channel") == "UG21" and c.ok]
    assert posts and {c.token for c in posts} == {token_of(orgs, "EG")}


def test_uninstall_stops_deliveries_keeps_the_data_and_a_reinstall_reactivates(
        orgs: Orgs) -> None:
    old_token = token_of(orgs, "TB")
    kept = ties_of(orgs, "TB")
    resp = orgs.b.event(orgs.sandbox.uninstall("TB"))
    assert resp.status == 200
    wait_until(lambda: not tenant(orgs, "TB").active, what="B marked inactive")
    with Session(orgs.engine) as s:
        assert not s.scalar(text("SELECT count(*) FROM slack_bots WHERE team_id = 'TB'"))
    since = len(orgs.sandbox.calls())
    # Requests from B are no longer served, and nothing queued for B is sent.
    orgs.b.slash_command("/kudos", "<@UB5> thanks #teamwork", "UB1")
    # A message queued for B (as a reminder queued before the uninstall would be).
    with db.transaction(db.make_session_factory(orgs.engine)) as s:
        b = s.scalars(select(Workspace).where(Workspace.slack_team_id == "TB")).one()
        enqueue(s, b.id, [Outgoing(key="after-uninstall", channel="UB5", text="hello")],
                datetime.now(UTC))
    wait_until(lambda: _outbox_status(orgs, "after-uninstall") == "failed",
               what="the row for the uninstalled tenant given up")
    later = orgs.sandbox.calls()[since:]
    assert not [c for c in later if c.token == old_token]
    assert not [c for c in later if c.method == "chat.postMessage"
                and c.params.get("channel", "").startswith("UB")]
    assert ties_of(orgs, "TB") == kept  # kept under the retention rules
    # A is untouched and still served.
    ra = orgs.a.slash_command("/kudos", "<@UA5> thanks #teamwork", "UA3")
    assert "UA5" in reply(orgs, ra)
    # Reinstalling reactivates B with its data.
    install(orgs, "TB", B_OWNER)
    wait_until(lambda: tenant(orgs, "TB").active, what="B reactivated")
    assert ties_of(orgs, "TB") == kept
    rb = orgs.b.slash_command("/kudos", "<@UB5> welcome back #teamwork", "UB1")
    assert "UB5" in reply(orgs, rb)


def test_tokens_revoked_marks_the_organisation_inactive(orgs: Orgs) -> None:
    resp = orgs.g1.event(orgs.sandbox.revoke_tokens("EG"))
    assert resp.status == 200
    wait_until(lambda: not tenant(orgs, "EG").active, what="EG marked inactive")
    assert tenant(orgs, "TA").active


def _outbox_status(orgs: Orgs, key: str) -> str | None:
    with Session(orgs.engine) as s:
        return s.scalar(select(OutboxMessage.status).where(
            OutboxMessage.idempotency_key == key))
