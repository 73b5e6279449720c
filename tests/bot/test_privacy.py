"""Privacy on SQLite and PostgreSQL: private files, erasure that leaves nothing behind,
opted-out people hidden from colleagues, and the retention purge."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import text

from bot import db
from bot.config import load_settings
from bot.services import Services
from bot.services import network as network_service
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
OWNER = "UOWNER"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are world-readable unless created otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def user(uid: str, first: str, last: str) -> dict[str, object]:
    handle = f"{first}.{last}".lower()
    return {"id": uid, "name": handle, "real_name": f"{first} {last}", "tz": "Europe/Paris",
            "profile": {"email": f"{handle}@example.org", "display_name": first,
                        "real_name": f"{first} {last}"}}


PEOPLE = [user(OWNER, "Olive", "Owner"), user("UALEX", "Alex", "Abbott"),
          user("UBEA", "Bea", "Barros"), user("UCAL", "Cal", "Cortez"),
          user("UDEV", "Devi", "Dhillon"), user("UEVE", "Evangeline", "Quirke")]


def make_services(url: str, data_dir: Path, **env: object) -> Services:
    db.upgrade(url)
    settings = load_settings(None, DATABASE_URL=url, PEERPULSE_OWNERS=OWNER,
                             PEERPULSE_DATA_DIR=str(data_dir), **env)
    sessions = db.make_session_factory(db.make_engine(url))
    services = Services(settings=settings, sessions=sessions,
                        client=WebClient(base_url="http://127.0.0.1:9/api/"),
                        clock=lambda: NOW)
    with db.transaction(sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        for u in PEOPLE:
            apply_user(s, ws, u)
        s.flush()
        for i, (a, b) in enumerate([("UALEX", "UBEA"), ("UBEA", "UCAL"), ("UCAL", "UEVE"),
                                    ("UEVE", "UALEX"), ("UDEV", "UEVE"), ("UBEA", "UEVE")]):
            record_tie(s, ws, NewTie(a, b, "helped", "poll", f"seed:{i}",
                                     NOW - timedelta(days=3 + i)))
        services.workspace_id = ws.id
    return services


@pytest.fixture
def services(database_url: str, tmp_path: Path, umask_022: None) -> Iterator[Services]:
    s = make_services(database_url, tmp_path / "data")
    yield s
    s.sessions.kw["bind"].dispose()


# Item 5: files holding people's data are readable by their owner only ------------------

def test_sqlite_database_wal_and_shm_are_created_0600_under_umask_022(
        tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "peerpulse.db"
    db.upgrade(f"sqlite:///{path}")
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a write, so the WAL and its index exist
        conn.execute(text("INSERT INTO workspaces (slack_team_id, name, created_at) "
                          "VALUES ('T9', 'x', '2026-01-01')"))
        for suffix in ("", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            assert side.exists(), side
            assert mode(side) == 0o600, (side, oct(mode(side)))
    engine.dispose()


def test_an_older_world_readable_database_is_tightened(tmp_path: Path, umask_022: None
                                                        ) -> None:
    path = tmp_path / "old.db"
    db.upgrade(f"sqlite:///{path}")
    path.chmod(0o644)
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert mode(path) == 0o600
    engine.dispose()


def test_a_missing_database_folder_is_still_an_error_not_created(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    with pytest.raises(Exception, match="unable to open"):
        engine.connect()
    assert not (tmp_path / "nowhere").exists()


def test_snapshot_and_export_files_are_0600_in_0700_folders(services: Services,
                                                            tmp_path: Path) -> None:
    snap = services.call(network_service.take_snapshot, OWNER, 30)
    ties_path, people_path, *_ = services.call(network_service.export_for_owner, OWNER)
    data = tmp_path / "data"
    folders = [data, data / "snapshots", snap.folder, data / "exports", ties_path.parent]
    files = [*snap.files.values(), ties_path, people_path]
    assert len(files) >= 8
    for folder in folders:
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for f in files:
        assert mode(f) == 0o600, (f, oct(mode(f)))
    everything = list(data.rglob("*"))
    assert everything and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in everything)
