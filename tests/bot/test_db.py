"""Storage on SQLite and PostgreSQL: migrations, one tie per origin key, atomic roster import."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.errors import RosterImportError, UnknownPerson
from bot.models import Person, ProcessedEvent, Tie, Workspace
from bot.services.events import first_delivery, forget_old_events
from bot.services.export import export_csv
from bot.services.roster import apply_user, import_roster
from bot.services.ties import NewTie, analysis_inputs, insert_ties, record_tie
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    db.upgrade(database_url)
    return db.make_session_factory(db.make_engine(database_url))


def user(uid: str, name: str, **extra: object) -> dict[str, object]:
    return {"id": uid, "name": name.lower(), "real_name": name,
            "profile": {"email": f"{name.lower()}@example.com", "display_name": name},
            "tz": "Europe/London", **extra}


def seed_people(session: Session, *names: str) -> Workspace:
    ws = ensure_workspace(session, "T1", "Acme")
    for i, name in enumerate(names, start=1):
        apply_user(session, ws, user(f"U{i}", name))
    session.flush()
    return ws


def test_migrations_create_every_table_and_reach_head(database_url: str) -> None:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert {"workspaces", "people", "ties", "processed_events", "audit_log",
            "workspace_settings", "alembic_version"} <= tables
    assert db.current_revision(engine) is not None
    db.upgrade(database_url)  # applying again is harmless
    engine.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_tie_is_stored_once_per_origin_key(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada", "Bo")
        tie = NewTie("U1", "U2", "recognised", "kudos", "kudos:abc:U2", NOW, reason="thanks")
        assert record_tie(s, ws, tie) is True
        assert record_tie(s, ws, tie) is False
    with db.transaction(sessions) as s:
        ws = s.scalars(select(Workspace)).one()
        assert record_tie(s, ws, tie) is False
        assert s.scalar(select(func.count(Tie.id))) == 1


def test_several_ties_are_stored_in_one_go_each_once_per_origin_key(
        sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada", "Bo", "Cy")
        ids = dict(s.execute(select(Person.slack_id, Person.id)).all())

        def tie(target: str, key: str) -> tuple[int, int, NewTie]:
            return ids["U1"], ids[target], NewTie("U1", target, "helped", "poll", key, NOW)

        record_tie(s, ws, tie("U2", "poll:1:U2")[2])
        stored = insert_ties(s, ws.id, [tie("U3", "poll:1:U3"), tie("U2", "poll:1:U2")])
        assert stored == {"poll:1:U3"}  # the key seen before is not stored again
        assert insert_ties(s, ws.id, [tie("U3", "poll:1:U3"), tie("U2", "poll:1:U2")]) == set()
        assert insert_ties(s, ws.id, [tie("U3", "poll:2:U3")]) == {"poll:2:U3"}
    with sessions() as s:
        assert sorted(s.scalars(select(Tie.origin_key))) == ["poll:1:U2", "poll:1:U3",
                                                              "poll:2:U3"]


def test_the_database_itself_refuses_a_second_tie_with_the_same_key(
        sessions: sessionmaker[Session]) -> None:
    from sqlalchemy.exc import IntegrityError

    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada", "Bo")
        record_tie(s, ws, NewTie("U1", "U2", "helped", "poll", "k1", NOW))
    with pytest.raises(IntegrityError), db.transaction(sessions) as s:
        a, b = s.scalars(select(Person).order_by(Person.slack_id)).all()
        s.add(Tie(workspace_id=a.workspace_id, source_id=a.id, target_id=b.id, kind="helped",
                  origin="poll", origin_key="k1", occurred_at=NOW))
        s.flush()


def test_unknown_person_is_refused_with_a_clear_message(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada")
        with pytest.raises(UnknownPerson, match="UNOPE"):
            record_tie(s, ws, NewTie("U1", "UNOPE", "helped", "poll", "k2", NOW))


def test_deactivated_people_keep_their_history(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada", "Bo")
        record_tie(s, ws, NewTie("U1", "U2", "helped", "poll", "k3", NOW))
        apply_user(s, ws, user("U2", "Bo", deleted=True))
    with db.transaction(sessions) as s:
        bo = s.scalars(select(Person).where(Person.slack_id == "U2")).one()
        assert not bo.is_active and bo.is_deleted
        assert s.scalar(select(func.count(Tie.id))) == 1
        ws = s.scalars(select(Workspace)).one()
        ties, people = analysis_inputs(s, ws)
        assert [p.id for p in people] == ["U1"]
        ties, people = analysis_inputs(s, ws, include_inactive=True)
        assert {p.id for p in people} == {"U1", "U2"} and len(ties) == 1


def test_bots_and_slackbot_never_become_people(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        ws = ensure_workspace(s, "T1")
        assert apply_user(s, ws, user("USLACKBOT", "Slackbot", is_bot=False)) is None
        assert apply_user(s, ws, user("B1", "Bot", is_bot=True)) is None
        assert apply_user(s, ws, user("A1", "App", is_app_user=True)) is None
        assert s.scalar(select(func.count(Person.id))) == 0


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_roster_import_by_id_and_email(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roster.csv", [
        ["slack_id", "email", "team", "manager", "title"],
        ["U1", "", "Sales", "bo@example.com", "Rep"],
        ["", "BO@example.com", "Sales", "", "Head of sales"],
    ])
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada", "Bo")
        result = import_roster(s, ws, path)
        assert result.rows == 2
    with sessions() as s:
        ada, bo = s.scalars(select(Person).order_by(Person.slack_id)).all()
        assert (ada.team, ada.manager, ada.title) == ("Sales", "U2", "Rep")
        assert (bo.team, bo.manager, bo.title) == ("Sales", None, "Head of sales")


def test_roster_import_reports_every_bad_row_and_applies_nothing(
        sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "roster.csv", [
        ["slack_id", "team", "manager"],
        ["U1", "Sales", ""],
        ["U404", "Sales", ""],
        ["U2", "Ops", "nobody@example.com"],
        ["U1", "Ops", ""],
    ])
    with db.transaction(sessions) as s:
        seed_people(s, "Ada", "Bo")
    with pytest.raises(RosterImportError) as err, db.transaction(sessions) as s:
        import_roster(s, s.scalars(select(Workspace)).one(), path)
    lines = [line for line, _ in err.value.problems]
    assert lines == [3, 4, 5]
    assert "roster.csv:3: unknown person 'U404'" in str(err.value)
    with sessions() as s:
        assert all(p.team is None for p in s.scalars(select(Person)))


@pytest.mark.parametrize("content, problem", [
    ("", "empty file"),
    ("name,team\nAda,Sales\n", "need slack_id or email"),
    ("slack_id\nU1\n", "no data columns"),
])
def test_roster_import_rejects_unusable_files(sessions: sessionmaker[Session], tmp_path: Path,
                                              content: str, problem: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(content)
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada")
        with pytest.raises(RosterImportError, match=problem):
            import_roster(s, ws, path)


def test_event_ids_are_remembered_once(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        assert first_delivery(s, "Ev1") is True
        assert first_delivery(s, "Ev1") is False
    with db.transaction(sessions) as s:
        assert first_delivery(s, "Ev1") is False
        assert forget_old_events(s, datetime.now(UTC) + timedelta(days=8)) == 1
        assert first_delivery(s, "Ev1") is True


def test_an_event_delivered_twice_at_once_is_recorded_by_one_delivery_only(
        sessions: sessionmaker[Session]) -> None:
    # The second delivery arrives while the first one's transaction is still open: it
    # waits for it (a row lock on PostgreSQL, the write lock on SQLite) and then loses.
    second: list[bool] = []
    with db.transaction(sessions) as first:
        assert first_delivery(first, "EvTwice") is True
        other = threading.Thread(target=lambda: second.append(
            _deliver(sessions, "EvTwice")))
        other.start()
        other.join(0.3)
        assert other.is_alive(), "the second delivery must wait for the first to commit"
    other.join(10)
    assert second == [False]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def _deliver(sessions: sessionmaker[Session], event_id: str) -> bool:
    with db.transaction(sessions) as s:
        return first_delivery(s, event_id)


def test_export_writes_raw_events_and_leaves_out_opted_out_people(
        sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with db.transaction(sessions) as s:
        ws = seed_people(s, "Ada", "Bo", "Cy")
        for i in range(2):
            record_tie(s, ws, NewTie("U1", "U2", "helped", "poll", f"p{i}", NOW, weight=1.0))
        record_tie(s, ws, NewTie("U3", "U1", "recognised", "kudos", "k", NOW))
        s.scalars(select(Person).where(Person.slack_id == "U3")).one().opted_out = True
    with db.transaction(sessions) as s:
        result = export_csv(s, s.scalars(select(Workspace)).one(), tmp_path / "out")
    with result.ties_path.open() as fh:
        ties = list(csv.DictReader(fh))
    with result.people_path.open() as fh:
        people = list(csv.DictReader(fh))
    assert [(t["source"], t["target"], t["kind"], t["origin"]) for t in ties] == [
        ("U1", "U2", "helped", "poll"), ("U1", "U2", "helped", "poll")]
    assert all(float(t["weight"]) == 1.0 and t["occurred_at"].startswith("2026-11-01")
               for t in ties)
    assert sorted(p["id"] for p in people) == ["U1", "U2"]


def test_a_pooled_connection_the_server_closed_is_replaced_without_a_round_trip(
        database_url: str) -> None:
    # PostgreSQL: the pool checks a connection's socket instead of a SELECT 1 per checkout
    # (`db._refuse_a_dead_connection`), and still never hands out one the server closed.
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL pool")
    from sqlalchemy.pool import NullPool

    engine = db.make_engine(database_url)
    admin = db.make_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.commit()

    def last_statement() -> str:
        with admin.connect() as conn:
            return str(conn.execute(text("SELECT query FROM pg_stat_activity WHERE pid = :p"),
                                    {"p": first}).scalar())

    before = last_statement()
    with engine.connect():
        pass  # a checkout of a live pooled connection sends the server nothing
    assert last_statement() == before == "COMMIT"
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": first}).scalar()
    admin.dispose()
    with engine.connect() as conn:  # no error: the closed one is dropped, a new one opened
        second = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    assert second != first
    engine.dispose()
