"""Engine, sessions and migrations. Nothing connects until a function here is called."""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if not parsed.drivername.startswith("sqlite") or not name or name == ":memory:" \
            or name.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(name)


def _private_sqlite_files(path: Path) -> None:
    """The database file is created 0600 before SQLite opens it; SQLite then gives its
    -wal and -shm files the database file's mode. Files left by an older install are
    tightened too."""
    from bot.files import ensure_private_file, private_files

    ensure_private_file(path)
    private_files(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, secure delete, a busy timeout and
    a database file readable by its owner only."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        path = sqlite_file(url)

        @event.listens_for(engine, "do_connect")
        def _private_file(*_args: Any) -> None:
            if path is not None:
                _private_sqlite_files(path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages (erasure).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    # One pooled connection per thread that may hold a session at once (gunicorn's 8,
    # Bolt's 16 listener threads, the outbox sender, the scheduler): QueuePool opens them
    # only when needed, and a pool smaller than that closed and reopened connections all
    # the time under load (a backend started and authenticated each time).
    if kwargs.get("poolclass") is None:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    from sqlalchemy.engine import make_url

    by_poll = "pool_pre_ping" not in kwargs and hasattr(select, "poll") \
        and make_url(url).get_driver_name() == "psycopg"
    kwargs.setdefault("pool_pre_ping", not by_poll)  # other drivers: SELECT 1 at checkout
    engine = create_engine(url, **kwargs)
    if by_poll:
        event.listen(engine, "checkout", _refuse_a_dead_connection)
    return engine


#: `make_engine`'s pool on PostgreSQL (per process): see there. At most 28 connections a
#: process, so 3 replicas x 2 workers stay within compose.yml's max_connections=200
#: (docs/deploy.md: replicas x workers x 30 + 20, the leader's and liveness connections
#: included).
POOL_SIZE = 24
POOL_OVERFLOW = 4


def _refuse_a_dead_connection(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Check a pooled connection before it is handed out, without a round trip (it replaces
    ``pool_pre_ping``'s ``SELECT 1``, one more round trip per transaction).

    An idle connection in the pool has nothing to read; one the server closed (a restart,
    ``pg_terminate_backend``, an idle timeout) has its farewell or EOF waiting on the
    socket. Either way the pool is told to drop it and hand out a fresh one
    (``DisconnectionError``), as a failed pre-ping does.
    """
    from sqlalchemy.exc import DisconnectionError

    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        raise DisconnectionError("connection closed")
    try:
        fd = dbapi_conn.pgconn.socket
    except Exception:  # no socket any more: the connection is gone
        raise DisconnectionError("connection has no socket") from None
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection (or sent while idle)")


def compact(engine: Engine, tables: Sequence[str] = ()) -> None:
    """Leave no copy of deleted rows in the database files.

    SQLite: checkpoint the WAL into the database and truncate it (old frames hold earlier
    versions of every changed page), VACUUM (rebuilds the file without free pages), then
    checkpoint and truncate again (VACUUM itself went through the WAL). PostgreSQL:
    VACUUM ``tables``, so dead row versions are reclaimed now rather than by autovacuum.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _checkpoint(conn)
            conn.exec_driver_sql("VACUUM")
            _checkpoint(conn)
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.exec_driver_sql(f'VACUUM "{table}"')


def _checkpoint(conn: Connection, attempts: int = 20) -> None:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` until no reader holds it back (busy = 0)."""
    for _ in range(attempts):
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        if not busy:
            return
        time.sleep(0.1)
    log.warning("database: WAL checkpoint still busy after %d attempts", attempts)


def compact_after_commit(session: Session, tables: Sequence[str]) -> None:
    """Run `compact` once ``session`` has committed (never if it rolls back).

    For use cases that erase personal data: they never commit themselves, and the files
    can only be cleaned after the deletion is committed. A failure is logged, not raised:
    the erasure itself has succeeded by then.
    """
    engine = session.get_bind()
    assert isinstance(engine, Engine)

    @event.listens_for(session, "after_commit", once=True)
    def _compact(_session: Session) -> None:
        try:
            compact(engine, tables)
        except Exception as exc:  # reported, not raised: the erasure already committed
            log.warning("database: compaction after erasure failed: %s", exc)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def on_postgresql(factory: sessionmaker[Session]) -> bool:
    """Whether ``factory``'s sessions are bound to a PostgreSQL database."""
    bind = factory.kw.get("bind")
    return getattr(getattr(bind, "dialect", None), "name", "") == "postgresql"


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: PostgreSQL advisory lock keys (one number space per database). Arbitrary, fixed.
MIGRATION_LOCK = 0x5065_6572_5075_6C01  # "PeerPul" + 1
LEADER_LOCK = 0x5065_6572_5075_6C02


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (what `peerpulse db upgrade` and start-up run).

    On PostgreSQL the upgrade holds an advisory lock on a connection of its own, so
    replicas starting together take turns: the first migrates, the others then find the
    schema current. (SQLite serialises writers itself and serves from one process.)
    """
    from alembic import command

    if not url.startswith("postgresql"):
        command.upgrade(alembic_config(url), revision)
        return
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                command.upgrade(alembic_config(url), revision)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
