"""`peerpulse export`: the stored ties and people as CSV files, one row per tie event."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from analytics.report.io import write_people, write_ties
from bot.files import ensure_private_file, private_dir
from bot.models import Workspace
from bot.services import Unit
from bot.services.ties import analysis_inputs


@dataclass
class ExportResult:
    ties_path: Path
    people_path: Path
    ties: int
    people: int


def export_csv(session: Session, workspace: Workspace, out_dir: Path) -> ExportResult:
    """Write ``ties.csv`` (raw events, never aggregated) and ``people.csv`` into ``out_dir``.

    Opted-out people and every tie touching them are left out; deactivated people stay,
    since their history is still part of the network's record.
    """
    ties, people = analysis_inputs(session, workspace, include_inactive=True)
    # People's data: a folder made here is 0700, and the files are 0600 before anything is
    # written into them (PRIVACY.md).
    private_dir(out_dir)
    ties_path = ensure_private_file(out_dir / "ties.csv")
    people_path = ensure_private_file(out_dir / "people.csv")
    write_ties(ties_path, ties)
    write_people(people_path, people)
    return ExportResult(ties_path, people_path, len(ties), len(people))


def export(uow: Unit, out_dir: Path) -> ExportResult:
    """`peerpulse export --out DIR` (owners' App Home export goes through
    `bot.services.network.export_for_owner`, which audits who asked)."""
    return export_csv(uow.session, uow.workspace, out_dir)
