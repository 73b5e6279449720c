"""The programme settings in force are computed once per set of stored overrides, yet a
change is seen by the very next unit of work: in the process that wrote it and in another
process (another `Services` on the same database) alike, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from bot.app import build_services, identify_workspace
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.models import WorkspaceSetting
from bot.services import Services, Unit, WorkspaceUnknown
from bot.services.settings import current, update_settings


def change(uow: Unit, **changes: object) -> dict[str, object]:
    return update_settings(uow.session, uow.workspace_id, "UOWNER", changes)


def drop_all(uow: Unit) -> None:
    uow.session.execute(delete(WorkspaceSetting))


@pytest.fixture
def pair(database_url: str) -> Iterator[tuple[Services, Services]]:
    """Two independently built `Services` (as two processes have) on one database."""
    with SlackSandbox() as sandbox:
        settings = load_settings(None, DATABASE_URL=database_url, SLACK_BOT_TOKEN=sandbox.token,
                                 SLACK_API_URL=sandbox.base_url, PEERPULSE_KUDOS_DAILY_CAP="7")
        one, other = build_services(settings), build_services(settings)
        identify_workspace(one)
        identify_workspace(other)
        yield one, other
        for s in (one, other):
            s.sessions.kw["bind"].dispose()


def test_a_change_is_seen_by_the_next_unit_here_and_elsewhere(
        pair: tuple[Services, Services]) -> None:
    one, other = pair
    assert one.call(current).kudos_daily_cap == 7
    assert other.call(current).kudos_daily_cap == 7  # both computed (and kept) the defaults
    one.call(change, kudos_daily_cap=3, kudos_values=("craft", "care"))
    assert one.call(current).kudos_daily_cap == 3
    seen = other.call(current)
    assert (seen.kudos_daily_cap, seen.kudos_values) == (3, ("craft", "care"))
    other.call(change, kudos_daily_cap=5)
    assert one.call(current).kudos_daily_cap == 5
    one.call(drop_all)  # back to the environment's defaults, written behind both
    assert other.call(current).kudos_daily_cap == 7
    assert one.call(current).kudos_values == other.call(current).kudos_values


def test_the_workspace_row_is_read_only_when_asked_for(pair: tuple[Services, Services]) -> None:
    one, _ = pair

    def rename(uow: Unit) -> None:
        uow.workspace.name = "Renamed"

    one.call(rename)
    assert one.call(lambda uow: uow.workspace.name) == "Renamed"
    with pytest.raises(WorkspaceUnknown):
        one.bound(one.workspace_id + 1000, "TNOPE").call(current)
