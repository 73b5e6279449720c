"""`peerpulse demo` end to end, on a small organisation so it stays quick."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.cli import main

pytestmark = pytest.mark.slow


def test_demo_runs_the_bot_and_writes_every_output(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--people", "40", "--teams", "4", "--weeks", "3"]) == 0
    printed = capsys.readouterr().out
    assert "Roster synced from users.list" in printed and "answered 429 and retried" in printed
    assert "unsigned request got 401" in printed
    assert "recognitions stored" in printed and "2 refused with a clear message" in printed
    assert "/network snapshot" in printed and "files_upload_v2" in printed
    (snapshot,) = (out / "snapshots").iterdir()
    for name in ("report.html", "network.png", "metrics.json", "network.gexf",
                 "network.graphml", "people.csv"):
        assert (snapshot / name).stat().st_size > 0, name
    for name in ("report.html", "network.png", "network.gexf", "people.csv"):
        assert (out / "owner-dm" / name).read_bytes() == (snapshot / name).read_bytes()
    metrics = json.loads((snapshot / "metrics.json").read_text())
    assert metrics["network"]["people"] == 40  # the leaver is gone, the new hire is counted
    with (out / "ties.csv").open() as fh:
        ties = list(csv.DictReader(fh))
    assert ties and {t["origin"] for t in ties} >= {"poll", "kudos"}
    assert "weekly poll rounds" in printed and "double clicks added nothing" in printed
    assert {t["kind"] for t in ties if t["origin"] == "kudos"} == {"recognised"}
    calls = json.loads((out / "slack-sandbox.json").read_text())
    assert calls
    assert (snapshot / "network.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
