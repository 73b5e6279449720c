"""What owners read in Slack (issue 12): people as mentions, every "top" list ordered by its
score, `/network compare` on a first run and in its layout, no server path in uploads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from analytics.model import Person, Tie
from analytics.pipeline import analyze
from bot import db
from bot.config import load_settings
from bot.models import OutboxMessage
from bot.rendering import render
from bot.services import Services
from bot.services import network as network_service
from bot.services.analysis_cache import analyses
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
OWNER = "UOWNER"


def test_headline_orders_connectors_by_how_many_named_them() -> None:
    # Ids sort the opposite way to prominence: the old summary took the first five by id.
    people = [Person(f"U{i:02d}", name=f"P{i}") for i in range(40)]
    named_by = {"U01": 3, "U02": 4, "U03": 5, "U04": 6, "U05": 7, "U38": 21, "U39": 9}
    ties = [Tie(f"U{10 + j:02d}", target) for target, n in named_by.items() for j in range(n)]
    ties += [Tie("U30", "U31"), Tie("U31", "U32")]
    h = network_service.headline(analyze(ties, people).result)
    scores = [c["score"] for c in h["connectors"]]
    assert h["connectors"][0] == {"id": "U38", "score": 21}  # Naomi, named by 21, comes first
    assert scores == sorted(scores, reverse=True)
    brokers = [b["score"] for b in h["brokers"]]
    assert brokers == sorted(brokers, reverse=True)
    assert h["isolates"] == 40 - len({t.source for t in ties} | {t.target for t in ties})


def test_equal_scores_are_ordered_by_name_then_id() -> None:
    people = [Person("U9", name="Ada"), Person("U1", name="Zoe")] + [
        Person(f"S{i}") for i in range(20)]
    ties = [Tie(f"S{i}", "U9") for i in range(6)] + [Tie(f"S{i}", "U1") for i in range(6, 12)]
    h = network_service.headline(analyze(ties, people).result)
    assert [c["id"] for c in h["connectors"]][:2] == ["U9", "U1"]  # Ada before Zoe


def test_snapshot_summary_mentions_people_and_is_marked_confidential() -> None:
    people = [Person(f"U{i:02d}", name="Joao") for i in range(30)]
    ties = [Tie(f"U{i:02d}", "U00") for i in range(1, 15)] + [
        Tie(f"U{i:02d}", f"U{i + 1:02d}") for i in range(15, 28)]
    text = render("network_snapshot.j2", days=90,
                  h=network_service.headline(analyze(ties, people).result))
    assert "<@U00> (14)" in text and "Joao" not in text
    assert "confidential" in text.lower()


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
        for i in range(12):
            uid = OWNER if i == 0 else f"U{i:02d}"
            apply_user(session, ws, {"id": uid, "name": uid.lower(), "real_name": f"Pat {i}",
                                     "profile": {"display_name": "Pat", "real_name": f"Pat {i}"}})
        s.workspace_id = ws.id  # type: ignore[attr-defined]
    analyses.clear()
    yield s
    analyses.clear()


def add_ties(services: Services, ties: list[tuple[str, str, int]]) -> None:
    with db.transaction(services.sessions) as session:
        ws = ensure_workspace(session, "T1", "Acme")
        for i, (a, b, days_ago) in enumerate(ties):
            record_tie(session, ws, NewTie(a, b, "helped", "poll", f"t:{a}:{b}:{days_ago}:{i}",
                                           NOW - timedelta(days=days_ago)))
    analyses.clear()


def test_first_compare_says_there_is_nothing_to_compare_yet(services: Services) -> None:
    add_ties(services, [(f"U{i:02d}", f"U{i + 1:02d}", 3) for i in range(1, 11)])
    c = services.call(network_service.compare, OWNER)
    assert c["diff"]["first_run"] is True
    text = render("network_compare.j2", days=c["days"], d=c["diff"], names=c["names"])
    assert "Nothing to compare yet" in text
    assert "0 →" not in text and "Newly connected" not in text


def test_compare_puts_each_finding_on_its_own_line(services: Services) -> None:
    # before: a chain; after: U05 becomes the one everybody names
    add_ties(services, [(f"U{i:02d}", f"U{i + 1:02d}", 120) for i in range(1, 11)])
    add_ties(services, [(f"U{i:02d}", "U05", 5) for i in range(1, 12) if i != 5])
    c = services.call(network_service.compare, OWNER)
    assert c["diff"]["first_run"] is False
    text = render("network_compare.j2", days=c["days"], d=c["diff"], names=c["names"])
    lines = text.splitlines()
    rising = [line for line in lines if line.startswith("Rising: ")]
    assert rising and "<@U05>" in rising[0] and "Pat" not in text
    assert any(line.startswith("People ") for line in lines)
    # no two findings run together on one line ("...<@U05>Fading: ...")
    for first in ("Rising", "Fading", "Newly connected", "Teams no longer", "Champion reach"):
        for line in lines:
            if line.startswith(first):
                others = ("Rising:", "Fading:", "Newly connected", "Teams no longer")
                assert not any(o in line[len(first):] for o in others), line


def test_snapshot_files_carry_no_server_path(services: Services) -> None:
    add_ties(services, [(f"U{i:02d}", f"U{i + 1:02d}", 3) for i in range(1, 11)])
    services.call(network_service.send_snapshot, OWNER, 30)
    data_dir = str(Path(services.settings.data_dir).resolve())
    with db.transaction(services.sessions) as session:
        rows = list(session.scalars(select(OutboxMessage)))
    uploads = [r.payload for r in rows if r.payload.get("files")]
    assert len(uploads) == 1 and any(f.endswith("report.html") for f in uploads[0]["files"])
    comment = uploads[0]["text"]
    assert comment.startswith("Confidential: named network data")
    assert data_dir not in comment and "/snapshots/" not in comment and "/" not in comment


def test_snapshot_files_name_people_by_full_name_and_team(services: Services) -> None:
    # Everyone's display name is "Pat": the files must still tell them apart.
    add_ties(services, [(f"U{i:02d}", f"U{i + 1:02d}", 3) for i in range(1, 11)])
    snap = services.call(network_service.take_snapshot, OWNER, 30)
    people_csv = snap.files["people.csv"].read_text()
    assert "Pat 3" in people_csv and ",Pat," not in people_csv
    html = snap.files["report.html"].read_text()
    assert "Pat 3" in html and "Confidential: named network data" in html
