"""Owners' kudos analytics on the App Home dashboard: values given and the share across
teams, aggregates only, people who opted out left out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import db
from bot.app import build_services
from bot.config import load_settings
from bot.rendering import render
from bot.services import Services, network
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TEAMS = {"U1": "Red", "U2": "Red", "U3": "Blue", "U4": "Blue", "U5": None, "UOUT": "Red"}


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    wired = build_services(load_settings(None, DATABASE_URL=database_url,
                                         PEERPULSE_OWNERS="U1", PEERPULSE_DATA_DIR=str(tmp_path)))
    with db.transaction(wired.sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        for uid, team in TEAMS.items():
            person = apply_user(s, ws, {"id": uid, "name": uid.lower(), "real_name": uid})
            assert person is not None
            person.team = team
            person.opted_out = uid == "UOUT"
        s.flush()
        given = [("U1", "U2", "teamwork", 1), ("U1", "U3", "teamwork", 2), ("U3", "U4", "care", 3),
                 ("U2", "U3", None, 4), ("U5", "U1", "care", 5), ("U1", "UOUT", "care", 6),
                 ("U3", "U1", "teamwork", 45)]  # the last one is older than 30 days
        for src, tgt, value, days_ago in given:
            record_tie(s, ws, NewTie(source=src, target=tgt, kind="recognised", origin="kudos",
                                     origin_key=f"k:{src}:{tgt}", value=value, reason="thanks",
                                     occurred_at=NOW - timedelta(days=days_ago)))
    wired.use_stored_workspace()
    wired.clock = lambda: NOW
    yield wired
    wired.sessions.kw["bind"].dispose()


def test_values_and_cross_team_share_count_only_people_taking_part(services: Services) -> None:
    k = services.call(network.kudos_figures, 30)
    assert k.given == 5  # the opted-out person's and the 45-day-old kudos are left out
    assert k.values == [("care", 2), ("teamwork", 2)]  # most given first, then by name
    # with both teams known: U1→U2 same, U1→U3 across, U3→U4 same, U2→U3 across
    assert (k.cross_team, k.with_teams) == (2, 4) and k.cross_team_share == 0.5


def test_the_owners_dashboard_shows_them(services: Services) -> None:
    dash = services.call(network.dashboard)
    text = render("home_dashboard.j2", d=dash)
    assert "*Kudos* (last 30 days): 5 given, 50% across teams" in text
    assert "#care 2, #teamwork 2" in text


def test_the_snapshot_report_lists_the_values_given_in_its_window(services: Services) -> None:
    snap = services.call(network.take_snapshot, "U1", 30)
    html = snap.files["report.html"].read_text(encoding="utf-8")
    section = html[html.index('id="kudos-values"'):]
    section = section[:section.index("</section>")]
    # most given first, ties by name; the opted-out person's and the older kudos left out
    assert section.index(">care<") < section.index(">teamwork<")
    assert section.count('class="bar"') == 2
    assert "opted out" in section
