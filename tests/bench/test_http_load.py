"""bench/http_load.py keeps working: a short run against the real bot finds every tie it
sent stored exactly once, and its checker does report a lost or an unexpected tie."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot import db
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace
from tests.benches import bench_path, load_bench

BENCH = bench_path("http_load")




@pytest.mark.slow
def test_a_short_run_sends_every_kind_and_finds_no_tie_lost_or_doubled(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(BENCH), "--rate", "15", "--seconds", "3",
                          "--people", "40"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240)
    out = run.stdout
    assert "ties:" in out, run.stderr[-3000:] or out
    table = dict(re.findall(r"^(\w+)\s+(\d+)\s+\d+\s+\d+", out, re.MULTILINE))
    # Each kind of request was sent (the mix is seeded), all of them answered 2xx.
    assert {"kudos", "poll_click", "event", "event_retry", "network_owner"} <= set(table)
    assert int(table["ALL"]) == 45
    assert re.search(r"^errors: 0 ", out, re.MULTILINE), out
    ties = re.search(r"^ties: (\d+) expected, lost (\d+), doubled (\d+), unexpected (\d+); "
                     r"events recorded (\d+)/(\d+) unique; kudos still pending (\d+)", out,
                     re.MULTILINE)
    assert ties is not None, out
    expected, lost, doubled, unexpected, recorded, events, pending = map(int, ties.groups())
    assert expected > 20
    assert (lost, doubled, unexpected, pending) == (0, 0, 0, 0)
    assert recorded == events > 0


def test_the_checker_reports_a_lost_tie_and_a_tie_from_a_refused_request(tmp_path: Path
                                                                         ) -> None:
    bench = load_bench("http_load")
    url = f"sqlite:///{tmp_path / 'check.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with Session(engine) as s, s.begin():
        ws = ensure_workspace(s, "T1", "Acme")
        for uid in ("U1", "U2"):
            apply_user(s, ws, {"id": uid, "name": uid.lower(), "real_name": uid})
        for key in ("kudos:T1:U2", "kudos:T9:U2"):
            record_tie(s, ws, NewTie("U1", "U2", "recognised", "kudos", key,
                                     occurred_at=datetime.now(UTC)))
    expected = bench.Expected(tie_keys={"kudos:T1:U2", "kudos:T2:U2"},
                              refused_keys={"kudos:T9:"})
    check = bench.check_database(engine, expected, settle_timeout=3, quiet=0.1)
    engine.dispose()
    assert (check.lost, check.doubled, check.unexpected) == (1, 0, 1)
    assert check.lost_keys == ["kudos:T2:U2"]
