"""Programme owners end to end: /network, snapshots through files_upload_v2, settings, App
Home, audit — and refusals for everyone else, including crafted payloads."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import db
from bot.cli import main
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import simulate_organisation
from bot.models import AuditEntry, Person, Tie, Workspace
from bot.services.network import audit as record_audit
from bot.services.settings import effective_settings
from bot.services.ties import NewTie, record_tie
from tests.e2e.conftest import Stack, launch, wait_for_roster, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    org = simulate_organisation(n_people=50, n_teams=4, seed=5)
    workdir = tmp_path_factory.mktemp("network")
    owner = org.people[0].id
    with SlackSandbox() as sandbox:
        sandbox.add_users(org.users)
        s = launch(sandbox, org, workdir, PEERPULSE_OWNERS=owner,
                   PEERPULSE_DATA_DIR=str(workdir / "data"))
        wait_for_roster(s)
        seed_ties(s)
        yield s
        s.bot.stop()
        s.engine.dispose()


def seed_ties(stack: Stack) -> None:
    """Eight weeks of answers along the hidden structure, as stored ties."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    factory = db.make_session_factory(stack.engine)
    with db.transaction(factory) as s:
        ws = s.scalars(select(Workspace)).one()
        for week in range(16):
            when = now - timedelta(days=7 * week + 1)
            for p in stack.org.people:
                if rng.random() < 0.6:
                    for t in stack.org.sample_named(p.id, rng, k_max=3):
                        record_tie(s, ws, NewTie(p.id, t, "helped", "poll",
                                                 f"seed:{week}:{p.id}:{t}", when))


def owner(stack: Stack) -> str:
    return stack.org.people[0].id


def someone(stack: Stack, i: int = 7) -> str:
    return stack.org.people[i].id


def audit(stack: Stack, action: str) -> list[AuditEntry]:
    with Session(stack.engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def command(stack: Stack, user: str, text: str) -> tuple[Any, None]:
    resp = stack.slack.slash_command("/network", text, user)
    assert resp.status == 200
    return resp, None


def ack_text(resp: Any) -> str:
    return str(resp.json.get("text", "")) if resp.body else ""


def replies(stack: Stack, resp: Any, n: int = 1, timeout: float = 30) -> list[str]:
    got = stack.sandbox.wait_for(
        lambda: len(stack.sandbox.responses(resp.response_key)) >= n and
        stack.sandbox.responses(resp.response_key), timeout=timeout)
    return [str(r.get("text")) for r in got]


def test_owner_snapshot_arrives_as_summary_and_files(stack: Stack) -> None:
    me = owner(stack)
    resp, _ = command(stack, me, "snapshot 60")
    assert "Working on your network snapshot" in ack_text(resp)
    files = stack.sandbox.wait_for(lambda: len(stack.sandbox.files(me)) >= 4 and
                                   stack.sandbox.files(me), timeout=60)
    by_name = {f["filename"]: f for f in files}
    assert set(by_name) >= {"network.png", "report.html", "people.csv", "network.gexf"}
    summary = [m for m in stack.sandbox.messages(me) if "Network snapshot" in m["text"]][-1]
    png = by_name["network.png"]["content"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg
    assert mpimg.imread(io.BytesIO(png), format="png").shape[0] > 100
    people_rows = list(csv.DictReader(io.StringIO(by_name["people.csv"]["content"].decode())))
    with Session(stack.engine) as s:
        active = s.scalar(select(func.count(Person.id)).where(Person.is_active,
                                                              ~Person.opted_out))
    assert len(people_rows) == active
    assert len({r["id"] for r in people_rows}) == len(people_rows)
    html = by_name["report.html"]["content"].decode()
    headline = audit(stack, "snapshot")[-1].detail["headline"]
    assert f"*{headline['people']}* people" in summary["text"]
    assert f"*{headline['ties']}* ties" in summary["text"]
    assert str(headline["people"]) in html and f"{headline['ties']:,}" in html
    ET.fromstring(by_name["network.gexf"]["content"])  # well-formed XML
    entry = audit(stack, "snapshot")[-1]
    assert entry.actor == me and entry.detail["days"] == 60
    done = replies(stack, resp)
    assert "Snapshot sent" in done[-1]


@pytest.mark.parametrize("text", ["snapshot", "champions 3", "compare", "settings",
                                  "champion add <@U1|x>", "person <@U1|x>"])
def test_non_owners_get_a_clear_refusal_and_nothing_else(stack: Stack, text: str) -> None:
    user = someone(stack, 9)
    before = len(stack.sandbox.calls())
    resp, _ = command(stack, user, text)
    assert "Only programme owners" in ack_text(resp)
    assert stack.sandbox.files(user) == [] and stack.sandbox.views(user) == []
    with Session(stack.engine) as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.actor == user)) == 0
    import time
    time.sleep(0.5)
    new_calls = [c.method for c in stack.sandbox.calls()[before:]]
    assert not [m for m in new_calls if m.startswith(("files.", "views.", "chat."))]


def test_champions_compare_and_person(stack: Stack) -> None:
    me = owner(stack)
    resp, _ = command(stack, me, "champions 3")
    text = replies(stack, resp)[-1]
    assert "Recommended champions (k=3)" in text and "Current champions reach" in text
    resp, _ = command(stack, me, "compare")
    assert "against the" in replies(stack, resp)[-1]
    target = someone(stack, 3)
    resp, _ = command(stack, me, f"person <@{target}|x>")
    text = replies(stack, resp)[-1]
    assert f"Ego network of <@{target}>" in text and "Named by" in text


def test_new_ties_are_answered_at_once_saying_how_fresh_then_refreshed(stack: Stack) -> None:
    """Issue 13: after new ties, /network person answers at once from the cached analysis,
    says how fresh it is, and a background refresh brings the new tie in."""
    me, target = owner(stack), someone(stack, 3)

    def ask() -> str:
        return replies(stack, command(stack, me, f"person <@{target}|x>")[0])[-1]

    first = ask()
    assert "Figures as of" not in first
    with db.transaction(db.make_session_factory(stack.engine)) as s:
        ws = s.scalars(select(Workspace)).one()
        target_pk = s.scalar(select(Person.id).where(Person.slack_id == target))
        naming = set(s.scalars(select(Person.slack_id).join(Tie, Tie.source_id == Person.id)
                               .where(Tie.target_id == target_pk)))
        source = next(p.id for p in stack.org.people[1:] if p.id not in naming | {target})
        record_tie(s, ws, NewTie(source, target, "helped", "poll", f"fresh:{source}",
                                 datetime.now(UTC)))
    stale = ask()
    assert re.match(r"_Figures as of \d\d:\d\d UTC; 1 tie recorded since is being added\._\n",
                    stale), stale
    assert f"<@{source}>" not in stale
    fresh: list[str] = []

    def refreshed() -> bool:
        fresh.append(ask())
        return "Figures as of" not in fresh[-1]

    wait_until(refreshed, timeout=60, what="the refreshed analysis")
    assert f"<@{source}>" in fresh[-1]


def test_help_shows_owner_commands_to_owners_only(stack: Stack) -> None:
    resp, _ = command(stack, owner(stack), "help")
    assert "/network snapshot" in replies(stack, resp)[-1]
    resp, _ = command(stack, someone(stack, 11), "help")
    text = replies(stack, resp)[-1]
    assert "/network snapshot" not in text and "/network mydata" in text
    resp, _ = command(stack, someone(stack, 11), "frobnicate")
    assert "don't know `/network frobnicate`" in replies(stack, resp, 2)[0]


def settings_state(**values: str) -> dict[str, Any]:
    return {k: {"v": {"type": "plain_text_input", "value": v}} for k, v in values.items()}


def test_settings_modal_validates_inline_and_saves_with_audit(stack: Stack) -> None:
    me = owner(stack)
    command(stack, me, "settings")
    modal = stack.sandbox.wait_for(lambda: [v for v in stack.sandbox.views(me)
                                            if v.get("callback_id") == "settings_modal"])[-1]
    ids = {b["block_id"] for b in modal["blocks"]}
    assert {"kudos_channel", "champion_channels", "poll_questions", "poll_schedule",
            "poll_sample_fraction", "quiet_hours", "analysis_window_days", "min_group_size",
            "reaction_kudos"} <= ids
    bad = stack.slack.view_submission(me, "settings_modal", settings_state(
        analysis_window_days="soon", min_group_size="1", quiet_hours="25-3"), view=modal)
    assert bad.json["response_action"] == "errors"
    assert set(bad.json["errors"]) == {"analysis_window_days", "min_group_size", "quiet_hours"}
    good_state = settings_state(analysis_window_days="60", min_group_size="6",
                                quiet_hours="21-7", poll_sample_fraction="40")
    good_state["kudos_channel"] = {"v": {"type": "conversations_select",
                                         "selected_conversation": "C0GENERAL"}}
    good_state["reaction_kudos"] = {"v": {"type": "checkboxes",
                                          "selected_options": [{"value": "on"}]}}
    ok = stack.slack.view_submission(me, "settings_modal", good_state, view=modal)
    assert ok.status == 200 and not ok.body
    wait_until(lambda: bool(audit(stack, "settings.update")), what="settings audit")
    detail = audit(stack, "settings.update")[-1].detail
    assert detail["analysis_window_days"] == 60 and detail["kudos_channel"] == "C0GENERAL"
    with Session(stack.engine) as s:
        from bot.config import load_settings
        ws = s.scalars(select(Workspace)).one()
        prefs = effective_settings(s, ws.id, load_settings(None))
    assert (prefs.analysis_window_days, prefs.min_group_size, prefs.quiet_hours,
            prefs.poll_sample_fraction, prefs.reaction_kudos) == (60, 6, "21-7", 0.4, True)
    stack.sandbox.wait_for(lambda: [m for m in stack.sandbox.messages(me)
                                    if "Settings saved" in m["text"]])


def test_crafted_payloads_naming_an_owner_are_refused(stack: Stack) -> None:
    intruder = someone(stack, 13)
    snapshots = len(audit(stack, "snapshot"))
    home = {"id": "VHOME1", "type": "home", "callback_id": ""}
    stack.slack.block_action(intruder, "owner_snapshot", owner(stack), block_id="owner_actions",
                             view=home)
    stack.slack.block_action(intruder, "owner_export", owner(stack), block_id="owner_actions",
                             view=home)
    sub = stack.slack.view_submission(
        intruder, "settings_modal", settings_state(min_group_size="3"),
        private_metadata=json.dumps({"user": owner(stack)}))
    assert sub.status == 200
    refusals = stack.sandbox.wait_for(
        lambda: len([m for m in stack.sandbox.messages(intruder)
                     if "Only programme owners" in m["text"]]) >= 3, timeout=10)
    assert refusals
    assert len(audit(stack, "snapshot")) == snapshots
    assert all(e.actor == owner(stack) for e in audit(stack, "export"))
    assert stack.sandbox.files(intruder) == []
    assert all(e.actor == owner(stack) for e in audit(stack, "settings.update"))


def test_app_home_dashboard_for_owners_personal_view_for_others(stack: Stack) -> None:
    me, other = owner(stack), someone(stack, 15)
    stack.slack.app_home_opened(me)
    home = stack.sandbox.wait_for(lambda: stack.sandbox.home(me))
    text = json.dumps(home)
    assert "programme dashboard" in text and "owner_snapshot" in text and "owner_export" in text
    stack.slack.app_home_opened(other)
    home = stack.sandbox.wait_for(lambda: stack.sandbox.home(other))
    assert "programme dashboard" not in json.dumps(home) and "Your PeerPulse" in json.dumps(home)


def test_export_button_uploads_csvs_and_is_audited(stack: Stack) -> None:
    me = owner(stack)
    stack.slack.block_action(me, "owner_export", "export", block_id="owner_actions",
                             view={"id": "VHOME2", "type": "home"})
    files = stack.sandbox.wait_for(lambda: [f for f in stack.sandbox.files(me)
                                            if f["filename"] == "ties.csv"], timeout=20)
    rows = list(csv.DictReader(io.StringIO(files[-1]["content"].decode())))
    with Session(stack.engine) as s:
        assert len(rows) == s.scalar(select(func.count(Tie.id)))
    assert audit(stack, "export")[-1].actor == me


def test_champion_add_remove(stack: Stack) -> None:
    me, who = owner(stack), someone(stack, 17)

    def is_champion() -> bool:
        with Session(stack.engine) as s:
            return bool(s.scalars(select(Person.is_champion)
                                  .where(Person.slack_id == who)).one())
    resp, _ = command(stack, me, f"champion add <@{who}|x>")
    assert "is now a champion" in replies(stack, resp)[-1] and is_champion()
    resp, _ = command(stack, me, f"champion remove <@{who}|x>")
    assert "no longer a champion" in replies(stack, resp)[-1] and not is_champion()
    assert [e.action for e in audit(stack, "champion.add")] == ["champion.add"]


def test_everyone_controls_their_own_data(stack: Stack) -> None:
    me = someone(stack, 20)

    def ties_of() -> int:
        with Session(stack.engine) as s:
            pid = s.scalars(select(Person.id).where(Person.slack_id == me)).one()
            return int(s.scalar(select(func.count(Tie.id)).where(
                (Tie.source_id == pid) | (Tie.target_id == pid))) or 0)
    assert ties_of() > 0
    resp, _ = command(stack, me, "mydata")
    assert "What PeerPulse holds about you" in replies(stack, resp)[-1]
    resp, _ = command(stack, me, "optout")
    assert "opted out" in replies(stack, resp)[-1]
    resp, _ = command(stack, me, "optin")
    assert "Welcome back" in replies(stack, resp)[-1]
    resp, _ = command(stack, me, "forgetme")
    assert "cannot be undone" in replies(stack, resp)[-1]
    with Session(stack.engine) as s:
        pid = s.scalars(select(Person.id).where(Person.slack_id == me)).one()
    stack.slack.block_action(me, "forget_confirm", "erase", block_id="forget")

    def erased() -> bool:  # their row is now an opted-out tombstone without their id
        with Session(stack.engine) as s:
            row = s.get(Person, pid)
            return row is not None and row.opted_out and row.slack_id != me and not s.scalar(
                select(func.count(Tie.id)).where((Tie.source_id == pid) | (Tie.target_id == pid)))
    wait_until(erased, what="erasure")


def test_audit_cli_lists_who_did_what(stack: Stack, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Its own entries, so it holds whichever tests ran before it (or none).
    with db.transaction(db.make_session_factory(stack.engine)) as s:
        ws = s.scalars(select(Workspace)).one()
        for action in ("snapshot", "settings.update", "export"):
            record_audit(s, ws, owner(stack), action, {"from": "the audit CLI test"})
    monkeypatch.setenv("DATABASE_URL", str(stack.engine.url))
    assert main(["audit", "--limit", "100"]) == 0
    out = capsys.readouterr().out
    assert "snapshot" in out and "settings.update" in out and owner(stack) in out
    assert main(["audit", "--json", "--action", "export"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["action"] == "export" for r in rows)
