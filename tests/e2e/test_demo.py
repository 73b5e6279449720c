"""`peerpulse demo` end to end: ONE run at the default size (the champion figures need it),
shared by this module's tests through a module-scoped fixture, each test checking its part."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ENV_PREFIXES

pytestmark = pytest.mark.slow

# The CLI's defaults, spelled out: the figures below are counted from them.
PEOPLE, TEAMS, WEEKS = 150, 8, 6


@dataclass(frozen=True)
class Demo:
    out: Path
    printed: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    out = tmp_path_factory.mktemp("demo") / "demo"
    printed = io.StringIO()
    # tests/conftest.py's clean_environment is function-scoped, so it has not run yet: do
    # the same here, for the module's one run.
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        for key in list(os.environ):
            if key.startswith(ENV_PREFIXES):
                mp.delenv(key, raising=False)
        mp.chdir(tmp_path_factory.mktemp("cwd"))
        code = main(["demo", "--out", str(out), "--people", str(PEOPLE), "--teams", str(TEAMS),
                     "--weeks", str(WEEKS)])
    assert code == 0, printed.getvalue()[-2000:]
    yield Demo(out, printed.getvalue())


def test_demo_runs_the_bot_and_writes_every_output(demo: Demo) -> None:
    out, printed = demo.out, demo.printed
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
    # the leaver is gone, the new hire is counted
    assert metrics["network"]["people"] == PEOPLE
    with (out / "ties.csv").open() as fh:
        ties = list(csv.DictReader(fh))
    assert ties and {t["origin"] for t in ties} >= {"poll", "kudos"}
    assert f"{WEEKS} weekly poll rounds" in printed and "double clicks added nothing" in printed
    assert {t["kind"] for t in ties if t["origin"] == "kudos"} == {"recognised"}
    calls = json.loads((out / "slack-sandbox.json").read_text())
    assert calls
    assert (snapshot / "network.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_demo_shows_the_digest_a_nudge_to_each_champion_and_the_measured_effect(
        demo: Demo) -> None:
    out, printed = demo.out, demo.printed
    assert "Champion digest posted in #champions" in printed and "files_upload_v2" in printed
    assert "Nudges: 3 of 3 champions DMed" in printed and printed.count("nudge queued to") == 3
    assert "pressed Done on one suggestion and Not useful on another" in printed
    assert "A second nudge send-now sent nothing" in printed
    assert "Measured effect after 30 days" in printed and "the simulation's truth" in printed
    folder = out / "champions"
    assert "Champion reach" in (folder / "digest.txt").read_text()
    assert (folder / "champion-reach.png").read_bytes()[:4] == b"\x89PNG"
    nudges = (folder / "nudges.txt").read_text()
    assert nudges.count("nudge queued to") == 3 and "<@" not in nudges  # full names in files
    effect = (folder / "effect.txt").read_text()
    assert "Do the nudges work?" in effect and "Difference" in effect
    shown, held = (re.search(rf"{arm}: \*(\d+)%\*", effect) for arm in ("shown", "withheld"))
    assert shown and held and int(shown.group(1)) > int(held.group(1))
