"""Shared fixtures: a clean environment, and a database URL for each backend.

The PostgreSQL leg runs when PEERPULSE_TEST_POSTGRES_URL names a server (`.ci/run` starts
one with scripts/postgres.sh); otherwise it is skipped with that reason shown. A plain run
resets the `public` schema of that database before each test. Under pytest-xdist each
worker gets a scratch database of its own beside it (`<database>_<worker>_<run id>`, made
with CREATE DATABASE, so the role needs CREATEDB) and drops it at the end, so workers and
concurrent runs never reset each other's tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_PREFIXES = ("SLACK_", "PEERPULSE_", "DATABASE_URL")
POSTGRES_ENV = "PEERPULSE_TEST_POSTGRES_URL"
_POSTGRES_URL = os.environ.get(POSTGRES_ENV, "").strip()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                      ) -> None:
    """Tests never see the developer's tokens or .env: clear them and run in an empty dir."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _xdist_database_name(base: str) -> str | None:
    """This xdist worker's own database name, or None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None
    run = "".join(c for c in os.environ.get("PYTEST_XDIST_TESTRUNUID", "") if c.isalnum())
    return f"{base}_{worker}_{run[:8]}".lower()[:63]  # PostgreSQL names: 63 bytes


def _admin(url: str, statement: str) -> None:
    """Run CREATE/DROP DATABASE (which refuse a transaction) on the named database's server."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL database this process may reset: its own one under xdist."""
    from sqlalchemy.engine import make_url

    base = make_url(_POSTGRES_URL)
    name = _xdist_database_name(base.database or "peerpulse_test")
    if name is None:
        yield _POSTGRES_URL
        return
    _admin(_POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(_POSTGRES_URL, f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    try:  # FORCE ends connections that tests left open (PostgreSQL 13+)
        _admin(_POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as err:  # a leftover scratch database is harmless: say so, go on
        print(f"could not drop the scratch database {name}: {err}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'peerpulse.db'}"
        return
    if not _POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL leg: {POSTGRES_ENV} is not set")
        pytest.skip(f"PostgreSQL leg: set {POSTGRES_ENV} (scripts/postgres.sh prints one)")
    url = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    yield url
