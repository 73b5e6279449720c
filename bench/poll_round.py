"""Benchmark of a poll round: enqueue time for a large organisation, and delivery rate
against the sender's per-minute ceiling (through the local Slack sandbox).

    .venv/bin/python bench/poll_round.py [--people 10000] [--ceiling 600] [--seconds 45]

Targets (issue 5): enqueue under 5 s for 10k people; delivery within 5% of the ceiling and
never above it.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from bot import db
from bot.app import build_services
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.models import Person
from bot.services.outbox import OutboxSender, make_sender_client, status_counts
from bot.services.polls import start_round
from bot.services.workspace import ensure_workspace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--ceiling", type=int, default=600, help="messages per minute")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of delivery run")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        sessions = db.make_session_factory(db.make_engine(url))
        with db.transaction(sessions) as s:
            ws = ensure_workspace(s, "T0SANDBOX", "Bench")
            s.execute(insert(Person), [
                {"workspace_id": ws.id, "slack_id": f"U{i:06d}", "name": f"p{i}",
                 "real_name": f"Person {i}", "display_name": "", "team": f"Team {i % args.teams}",
                 "is_active": True, "is_deleted": False, "is_champion": False,
                 "opted_out": False, "polls_paused": False}
                for i in range(args.people)])
            workspace_id = ws.id
        # The bot's own wiring and use case, as the schedule and `poll send-now` run it.
        services = build_services(load_settings(None, DATABASE_URL=url), migrate=False)
        services.use_stored_workspace()

        t0 = time.perf_counter()
        opened = services.call(start_round, "helped", trigger="bench", sample=1.0)
        enqueue_s = time.perf_counter() - t0
        verdict = "OK" if enqueue_s < 5 else "SLOW"
        print(f"enqueue: round for {args.people} people ({opened.queued} DMs queued) in "
              f"{enqueue_s:.2f} s  [target < 5 s: {verdict}]")

        with SlackSandbox() as sandbox, sessions() as s:
            sandbox.add_users([{"id": sid, "name": sid.lower(), "deleted": False,
                                "is_bot": False} for sid in s.scalars(select(Person.slack_id))])
            sender = OutboxSender(
                sessions, make_sender_client(sandbox.token, sandbox.base_url),
                clock=lambda: datetime.now(UTC), per_minute=args.ceiling, idle_sleep=0.05)
            stop = threading.Event()
            sender.start()
            stop.wait(args.seconds)
            sender.stop()
            sent = [c.time for c in sandbox.calls("chat.postMessage") if c.status == 200]
            counts = status_counts(s, workspace_id)
        if len(sent) < 2:
            print("delivery: fewer than two messages sent; nothing to measure")
            return 1
        span = sent[-1] - sent[0]
        rate = (len(sent) - 1) / span * 60
        window = min(60.0, span)
        peak = max(sum(1 for t in sent if start <= t < start + window) for start in sent)
        allowed = args.ceiling * window / 60 + 1  # +1: both ends of a window can hold a send
        within = abs(rate - args.ceiling) <= 0.05 * args.ceiling
        print(f"delivery: {len(sent)} DMs in {span:.1f} s = {rate:.1f}/min against a ceiling of "
              f"{args.ceiling}/min ({rate / args.ceiling:.1%}; within 5%: "
              f"{'OK' if within else 'NO'})")
        print(f"          busiest {window:.0f} s window: {peak} sends (allowed "
              f"{int(allowed)}: {'never above' if peak <= allowed else 'ABOVE'}); "
              f"outbox now {dict(sorted(counts.items()))}")
        print(f"          a {args.people}-person round at this ceiling takes "
              f"{args.people / args.ceiling:.0f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
