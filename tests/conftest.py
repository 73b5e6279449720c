"""Shared fixtures: a clean environment, and a database URL for each backend.

The PostgreSQL leg runs when PEERPULSE_TEST_POSTGRES_URL names a server (`.ci/run` starts
one with scripts/postgres.sh); otherwise it is skipped with that reason shown.
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
    _reset_postgres(_POSTGRES_URL)
    yield _POSTGRES_URL
