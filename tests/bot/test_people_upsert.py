"""Creating a person is safe against a concurrent creation (an upsert), on SQLite and
PostgreSQL: the first roster sync, events and a `/kudos` naming someone new may all create
the same person at the same moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.models import Person, Workspace
from bot.services.roster import SyncResult, apply_user
from bot.services.workspace import ensure_workspace


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    db.upgrade(database_url)
    factory = db.make_session_factory(db.make_engine(database_url))
    with db.transaction(factory) as s:
        ensure_workspace(s, "T1")
    return factory


def user(uid: str, name: str = "ann") -> dict[str, Any]:
    return {"id": uid, "name": name, "real_name": name.title(), "deleted": False,
            "is_bot": False, "profile": {"display_name": name}}


def workspace(session: Session) -> Workspace:
    ws = session.scalars(select(Workspace)).one()
    return ws


def people(sessions: sessionmaker[Session], uid: str) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count(Person.id)).where(Person.slack_id == uid)) or 0)


def test_a_creator_that_loses_the_race_gets_the_winners_row(
        sessions: sessionmaker[Session]) -> None:
    # The winner has inserted but not committed when the loser looks and finds nobody: the
    # loser's insert waits for the winner's commit, then must not fail on the unique key.
    winner = sessions()
    apply_user(winner, workspace(winner), user("UNEW", "ann"))
    winner.flush()
    outcome: dict[str, Any] = {}

    def lose() -> None:
        try:
            with db.transaction(sessions) as s:
                result = SyncResult()
                person = apply_user(s, workspace(s), user("UNEW", "ann b"), result)
                outcome.update(id=person.id if person else None, added=result.added)
        except Exception as exc:  # the bug: IntegrityError on people.workspace_id, slack_id
            outcome["error"] = exc

    loser = threading.Thread(target=lose)
    loser.start()
    time.sleep(0.5)  # the loser is now blocked on the winner's uncommitted row
    winner.commit()
    winner.close()
    loser.join(30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["added"] == 0, "the loser did not create a second person"
    assert people(sessions, "UNEW") == 1
    with sessions() as s:
        person = s.scalars(select(Person).where(Person.slack_id == "UNEW")).one()
        assert person.id == outcome["id"]
        assert person.real_name == "Ann B", "the loser's newer profile is applied"


def test_many_concurrent_creators_of_the_same_people_all_succeed(
        sessions: sessionmaker[Session]) -> None:
    ids = [f"URACE{i}" for i in range(5)]
    start = threading.Barrier(8)

    def create(n: int) -> int:
        start.wait()
        with db.transaction(sessions) as s:
            ws = workspace(s)
            return sum(apply_user(s, ws, user(uid, f"p{n}")) is not None for uid in ids)

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(create, range(8)))
    assert done == [len(ids)] * 8
    for uid in ids:
        assert people(sessions, uid) == 1
