"""Benchmark of erasure and the retention purge on a large database: how long
`/network forgetme` takes (the sweep of every table, then the compaction: SQLite WAL
checkpoint, VACUUM, checkpoint; PostgreSQL VACUUM), and the nightly purge.

    .venv/bin/python bench/privacy.py [--people 5000] [--ties 200000] [--database-url URL]

On PostgreSQL, point ``--database-url`` at an empty scratch database: it is filled.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import insert, select

from bot import db
from bot.config import load_settings
from bot.models import OutboxMessage, Person, Tie
from bot.services import Services, retention
from bot.services import network as network_service
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def fill(services: Services, people: int, ties: int) -> None:
    rng = random.Random(7)
    with db.transaction(services.sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        services.workspace_id = ws.id
        s.execute(insert(Person), [
            {"workspace_id": ws.id, "slack_id": f"U{i:07d}", "name": f"person.{i}",
             "real_name": f"Person Number{i}", "display_name": f"Number{i}",
             "email": f"person.{i}@example.org", "tz": "Europe/Paris", "team": f"T{i % 40}",
             "manager": f"U{i - i % 25:07d}"} for i in range(people)])
        ids = list(s.scalars(select(Person.id).order_by(Person.id)))
        for start in range(0, ties, 20_000):
            s.execute(insert(Tie), [
                {"workspace_id": ws.id, "source_id": rng.choice(ids),
                 "target_id": rng.choice(ids), "kind": "recognised", "origin": "kudos",
                 "origin_key": f"k:{n}", "reason": f"thanks to <@U{rng.randrange(people):07d}>",
                 "occurred_at": NOW - timedelta(days=rng.randrange(900))}
                for n in range(start, min(ties, start + 20_000))])
        s.execute(insert(OutboxMessage), [
            {"workspace_id": ws.id, "idempotency_key": f"poll:{n}",
             "channel": f"U{n % people:07d}", "payload": {"text": f"Hi Number{n % people}!"},
             "status": "sent", "next_attempt_at": NOW, "created_at": NOW - timedelta(days=n % 200)}
            for n in range(people * 4)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--ties", type=int, default=200_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        settings = load_settings(None, DATABASE_URL=url, PEERPULSE_DATA_DIR=str(Path(tmp)))
        services = Services(settings, db.make_session_factory(db.make_engine(url)),
                            WebClient(base_url="http://127.0.0.1:9/api/"), clock=lambda: NOW)
        started = time.perf_counter()
        fill(services, args.people, args.ties)
        print(f"filled {args.people} people, {args.ties} ties, {args.people * 4} sent "
              f"messages in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        started = time.perf_counter()
        erased = services.call(network_service.forget_me, f"U{args.people // 2:07d}")
        print(f"forgetme (erase, sweep every table, compact): {erased} ties, "
              f"{time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        purged = services.call(retention.purge)
        print(f"retention purge (18 months / 90 days): {purged.summary()}; "
              f"{time.perf_counter() - started:.2f} s")
        services.sessions.kw["bind"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
