"""Privacy on SQLite and PostgreSQL: private files, erasure that leaves nothing behind,
opted-out people hidden from colleagues, and the retention purge."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import sessionmaker

from bot import db, jobs
from bot.config import ConfigError, Settings, load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.models import (
    AuditEntry,
    ChampionDigest,
    Nudge,
    OutboxMessage,
    Person,
    PollRequest,
    PollRound,
    Suggestion,
    Tie,
    Workspace,
)
from bot.services import Services, erasure, polls, retention
from bot.services import export as export_service
from bot.services import kudos as kudos_service
from bot.services import network as network_service
from bot.services import roster as roster_service
from bot.services.kudos import KudosRejected
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
OWNER = "UOWNER"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are world-readable unless created otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def user(uid: str, first: str, last: str) -> dict[str, object]:
    handle = f"{first}.{last}".lower()
    return {"id": uid, "name": handle, "real_name": f"{first} {last}", "tz": "Europe/Paris",
            "profile": {"email": f"{handle}@example.org", "display_name": first,
                        "real_name": f"{first} {last}"}}


PEOPLE = [user(OWNER, "Olive", "Owner"), user("UALEX", "Alex", "Abbott"),
          user("UBEA", "Bea", "Barros"), user("UCAL", "Cal", "Cortez"),
          user("UDEV", "Devi", "Dhillon"), user("UEVE", "Evangeline", "Quirke")]


def make_services(url: str, data_dir: Path, client: WebClient | None = None, **env: object
                  ) -> Services:
    db.upgrade(url)
    env.setdefault("PEERPULSE_OWNERS", OWNER)
    settings = load_settings(None, DATABASE_URL=url, PEERPULSE_DATA_DIR=str(data_dir), **env)
    sessions = db.make_session_factory(db.make_engine(url))
    services = Services(settings=settings, sessions=sessions,
                        client=client or WebClient(base_url="http://127.0.0.1:9/api/"),
                        clock=lambda: NOW)
    with db.transaction(sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        for u in PEOPLE:
            apply_user(s, ws, u)
        s.flush()
        for i, (a, b) in enumerate([("UALEX", "UBEA"), ("UBEA", "UCAL"), ("UCAL", "UEVE"),
                                    ("UEVE", "UALEX"), ("UDEV", "UEVE"), ("UBEA", "UEVE")]):
            record_tie(s, ws, NewTie(a, b, "helped", "poll", f"seed:{i}",
                                     NOW - timedelta(days=3 + i)))
        services.workspace_id = ws.id
    return services


@pytest.fixture
def services(database_url: str, tmp_path: Path, umask_022: None) -> Iterator[Services]:
    s = make_services(database_url, tmp_path / "data")
    yield s
    s.sessions.kw["bind"].dispose()


# Item 5: files holding people's data are readable by their owner only ------------------

def test_sqlite_database_wal_and_shm_are_created_0600_under_umask_022(
        tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "peerpulse.db"
    db.upgrade(f"sqlite:///{path}")
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a write, so the WAL and its index exist
        conn.execute(text("INSERT INTO workspaces (slack_team_id, name, created_at) "
                          "VALUES ('T9', 'x', '2026-01-01')"))
        for suffix in ("", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            assert side.exists(), side
            assert mode(side) == 0o600, (side, oct(mode(side)))
    engine.dispose()


def test_an_older_world_readable_database_is_tightened(tmp_path: Path, umask_022: None
                                                        ) -> None:
    path = tmp_path / "old.db"
    db.upgrade(f"sqlite:///{path}")
    path.chmod(0o644)
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert mode(path) == 0o600
    engine.dispose()


def test_a_missing_database_folder_is_still_an_error_not_created(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    with pytest.raises(Exception, match="unable to open"):
        engine.connect()
    assert not (tmp_path / "nowhere").exists()


def test_snapshot_and_export_files_are_0600_in_0700_folders(services: Services,
                                                            tmp_path: Path) -> None:
    snap = services.call(network_service.take_snapshot, OWNER, 30)
    ties_path, people_path, *_ = services.call(network_service.export_for_owner, OWNER)
    data = tmp_path / "data"
    folders = [data, data / "snapshots", snap.folder, data / "exports", ties_path.parent]
    files = [*snap.files.values(), ties_path, people_path]
    assert len(files) >= 8
    for folder in folders:
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for f in files:
        assert mode(f) == 0o600, (f, oct(mode(f)))
    everything = list(data.rglob("*"))
    assert everything and all(mode(p) == (0o700 if p.is_dir() else 0o600) for p in everything)


def test_the_cli_export_writes_0600_files_and_leaves_an_existing_folder_alone(
        services: Services, tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "export"
    result = services.call(export_service.export, fresh)
    assert mode(fresh) == mode(fresh.parent) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    (shared / "ties.csv").write_text("old")  # 0644 under umask 022
    again = services.call(export_service.export, shared)
    assert mode(shared) == 0o755  # the operator's folder keeps its mode
    for f in (result.ties_path, result.people_path, again.ties_path, again.people_path):
        assert mode(f) == 0o600, (f, oct(mode(f)))
    assert again.ties_path.read_text().startswith("source,target")


# Item 13: opted-out people leave colleagues' App Home; retention and the purge ------------

def kudos(services: Services, giver: str, to: str, reason: str, at: datetime) -> None:
    with db.transaction(services.sessions) as s:
        ws = s.get(Workspace, services.workspace_id)
        assert ws is not None
        assert record_tie(s, ws, NewTie(giver, to, "recognised", "kudos",
                                        f"kudos:{giver}:{to}:{at.isoformat()}", at,
                                        reason=reason))


def test_colleagues_app_home_hides_kudos_from_and_to_an_opted_out_person(
        services: Services) -> None:
    kudos(services, "UALEX", "UBEA", "for the release notes", NOW - timedelta(days=2))
    kudos(services, "UBEA", "UCAL", "for pairing", NOW - timedelta(days=3))
    kudos(services, "UCAL", "UALEX", "for the review", NOW - timedelta(days=4))

    def others(viewer: str) -> tuple[list[str], list[str], int, int]:
        h = services.call(kudos_service.my_kudos, viewer)
        return ([i.other for i in h.received], [i.other for i in h.given],
                h.received_total, h.given_total)

    assert others("UALEX") == (["UCAL"], ["UBEA"], 1, 1)
    assert others("UCAL") == (["UBEA"], ["UALEX"], 1, 1)
    services.call(network_service.set_opt_out, "UBEA", True)
    assert others("UALEX") == (["UCAL"], [], 1, 0)
    assert others("UCAL") == ([], ["UALEX"], 0, 1)
    assert others("UBEA") == (["UALEX"], ["UCAL"], 1, 1)  # their own history stays theirs
    services.call(network_service.set_opt_out, "UBEA", False)
    assert others("UALEX") == (["UCAL"], ["UBEA"], 1, 1)


def counts(services: Services) -> dict[str, int]:
    with services.sessions() as s:
        return {m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Tie, PollRound, PollRequest, AuditEntry, OutboxMessage)}


def old_round(services: Services, closes: datetime) -> None:
    """A poll round that closed at ``closes``, with a request and its sent DM."""
    with db.transaction(services.sessions) as s:
        ws_id = services.workspace_id
        r = PollRound(workspace_id=ws_id, round_key=f"r{closes:%Y%m%d}", question="helped",
                      kind="helped", sample_fraction=1, opened_at=closes - timedelta(days=5),
                      remind_at=closes - timedelta(days=3), closes_at=closes)
        s.add(r)
        s.flush()
        person = s.scalars(select(Person).where(Person.slack_id == "UALEX")).one()
        req = PollRequest(round_id=r.id, person_id=person.id, asked_at=r.opened_at)
        s.add(req)
        s.flush()
        s.add(OutboxMessage(workspace_id=ws_id, idempotency_key=f"poll:{req.id}",
                            channel="UALEX", payload={"text": "Hi Alex!"},
                            poll_request_id=req.id, status="sent",
                            next_attempt_at=r.opened_at, created_at=r.opened_at))
        s.add(AuditEntry(workspace_id=ws_id, actor=OWNER, action="snapshot", detail={},
                         at=closes))


def champion_records(services: Services, when: datetime) -> None:
    """A champion's nudge with one suggestion, and a digest, made at ``when``."""
    late = when > retention.months_before(NOW, 18)
    with db.transaction(services.sessions) as s:
        ids = {p.slack_id: p.id for p in s.scalars(select(Person))}
        ws = services.workspace_id
        period = f"{when:%Y}-{'late' if late else 'early'}"
        nudge = Nudge(workspace_id=ws, champion_id=ids["UALEX"], period=period,
                      status="sent", created_at=when)
        s.add(nudge)
        s.flush()
        s.add(Suggestion(workspace_id=ws, nudge_id=nudge.id, champion_id=ids["UALEX"],
                         kind="thank", subject_id=ids["UBEA"], arm="shown", created_at=when))
        s.add(ChampionDigest(workspace_id=ws, period=period, figures={}, created_at=when))


def test_the_purge_keeps_18_months_of_ties_and_90_days_of_files_by_default(
        services: Services, tmp_path: Path) -> None:
    assert services.settings.tie_retention_months == 18
    assert services.settings.snapshot_retention_days == 90
    cutoff = retention.months_before(NOW, 18)
    assert cutoff == datetime(2025, 5, 2, 10, 0, tzinfo=UTC)
    kudos(services, "UALEX", "UBEA", "long ago", cutoff - timedelta(hours=1))
    kudos(services, "UALEX", "UCAL", "just inside", cutoff + timedelta(hours=1))
    old_round(services, cutoff - timedelta(days=1))
    old_round(services, cutoff + timedelta(days=1))
    for when in (cutoff - timedelta(days=1), cutoff + timedelta(days=1)):
        champion_records(services, when)
    for days in (120, 91, 89, 1):  # snapshots and exports taken that many days ago
        services.clock = lambda days=days: NOW - timedelta(days=days)  # type: ignore[misc]
        services.call(network_service.take_snapshot, OWNER, 30)
        services.call(network_service.export_for_owner, OWNER)
    services.clock = lambda: NOW
    data = tmp_path / "data"
    assert len(list((data / "snapshots").iterdir())) == 4
    for week, days in (("2026-W30", 100), ("2026-W43", 10)):  # digest pictures, by mtime
        folder = data / "digests" / week
        folder.mkdir(parents=True)
        (folder / "champion-reach.png").write_bytes(b"png")
        stamp = (NOW - timedelta(days=days)).timestamp()
        os.utime(folder, (stamp, stamp))
    before = counts(services)

    purged = services.call(retention.purge)

    after = counts(services)
    assert (purged.ties, purged.poll_rounds, purged.poll_requests) == (1, 1, 1)
    assert purged.folders == 5  # 120 and 91 days ago, a snapshot and an export each; W30
    assert after["ties"] == before["ties"] - 1 and after["poll_rounds"] == 1
    # Sent DMs older than 90 days go: the old round's, and the recent round's too (it was
    # sent 18 months ago), but no snapshot audit newer than 18 months.
    assert after["outbox_messages"] == 0 and purged.messages == 2
    assert purged.audit_entries == 1 and after["audit_log"] == before["audit_log"] - 1
    with services.sessions() as s:
        assert s.scalar(select(func.min(Tie.occurred_at))) > cutoff
    left = sorted(p.name[:8] for p in (data / "snapshots").iterdir()) + \
        sorted(p.name[:8] for p in (data / "exports").iterdir())
    recent = sorted(f"{NOW - timedelta(days=d):%Y%m%d}" for d in (89, 1))
    assert left == recent + recent
    assert [p.name for p in (data / "digests").iterdir()] == ["2026-W43"]
    assert purged.champion_records == 3  # the old nudge, its suggestion, the old digest
    with services.sessions() as s:
        assert [n.period for n in s.scalars(select(Nudge))] == [f"{cutoff:%Y}-late"]
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 1
        assert s.scalar(select(func.count()).select_from(ChampionDigest)) == 1
    assert services.call(retention.purge).total == 0  # nothing left to do


def test_retention_periods_are_settings(database_url: str, tmp_path: Path) -> None:
    services = make_services(database_url, tmp_path / "data",
                             PEERPULSE_TIE_RETENTION_MONTHS="6",
                             PEERPULSE_SNAPSHOT_RETENTION_DAYS="10")
    try:
        kudos(services, "UALEX", "UBEA", "seven months ago", NOW - timedelta(days=213))
        kudos(services, "UALEX", "UCAL", "five months ago", NOW - timedelta(days=152))
        services.clock = lambda: NOW - timedelta(days=11)
        services.call(network_service.take_snapshot, OWNER, 30)
        services.clock = lambda: NOW
        before = counts(services)["ties"]
        purged = services.call(retention.purge)
        assert (purged.ties, purged.folders) == (1, 1)
        assert counts(services)["ties"] == before - 1
    finally:
        services.sessions.kw["bind"].dispose()
    with pytest.raises(ConfigError):
        load_settings(None, PEERPULSE_TIE_RETENTION_MONTHS="0")


def test_the_nightly_job_runs_the_purge(services: Services) -> None:
    table = {j.id: j for j in jobs.schedule(BackgroundScheduler(), services)}
    job = table["retention-purge"]
    assert job.trigger == "cron" and job.when == {"hour": 4, "minute": 45}
    kudos(services, "UALEX", "UBEA", "ancient", NOW - timedelta(days=800))
    before = counts(services)["ties"]
    assert job.run(services).ties == 1
    assert counts(services)["ties"] == before - 1


def test_purged_text_leaves_no_copy_in_the_sqlite_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    services = make_services(url, tmp_path / "data")
    secret = "Zanzibar-quokka-7731"
    try:
        kudos(services, "UALEX", "UBEA", f"for the {secret} fix", NOW - timedelta(days=800))
        with services.sessions() as s:  # a reader, as the running bot has
            s.execute(select(Tie.reason)).all()
        assert grep_files(tmp_path, secret)  # the WAL holds it now
        assert services.call(retention.purge).ties == 1
        assert grep_files(tmp_path, secret) == []
    finally:
        services.sessions.kw["bind"].dispose()


def grep_files(root: Path, *needles: str) -> list[tuple[str, str]]:
    """(file, needle) for every file under ``root`` that holds a needle (as a whole word,
    any case, in its bytes)."""
    return [(str(path.relative_to(root)), n)
            for path in sorted(p for p in root.rglob("*") if p.is_file())
            for n in find(path.read_bytes(), needles)]


# Item 12: forgetme leaves nothing identifying behind -------------------------------------

VICTIM = "UEVE"
NEEDLES = ("UEVE", "Evangeline Quirke", "Evangeline", "evangeline.quirke",
           "evangeline.quirke@example.org", "Quirke")


def find(haystack: str | bytes, needles: tuple[str, ...] = NEEDLES) -> list[str]:
    """The needles in ``haystack`` as whole words, any case."""
    data = haystack if isinstance(haystack, bytes) else haystack.encode()
    return [n for n in needles
            if re.search(rb"(?<![A-Za-z0-9])" + re.escape(n.encode()) + rb"(?![A-Za-z0-9])",
                         data, re.IGNORECASE)]


def grep_tables(engine: Engine, needles: tuple[str, ...] = NEEDLES) -> list[tuple[str, str]]:
    """(table, needle) for every row of every table (Alembic's and APScheduler's too)."""
    hits = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                cells = " ".join(v.hex() + " " + v.decode("latin-1") if isinstance(v, bytes)
                                 else json.dumps(v, default=str) for v in row)
                hits += [(table, n) for n in find(cells, needles)]
    return sorted(set(hits))


def footprint(services: Services) -> None:
    """Everything a person leaves in PeerPulse: ties both ways, kudos with reasons naming
    them, a poll request and its DM, the kudos DM to them, audit entries they made or that
    name them, a colleague they manage, a pending /kudos, a nudge and suggestions, and
    snapshot and export folders."""
    with db.transaction(services.sessions) as s:
        s.scalars(select(Person).where(Person.slack_id == "UDEV")).one().manager = VICTIM
        s.scalars(select(Person).where(Person.slack_id == VICTIM)).one().team = "Quirke Lab"
    services.call(kudos_service.from_command, giver="UALEX", text=f"<@{VICTIM}> for the docs",
                  request_key="T-1")
    services.call(kudos_service.from_command, giver=VICTIM, text="<@UBEA> for the release",
                  request_key="T-2")
    services.call(kudos_service.from_command, giver="UCAL",
                  text=f"<@UBEA> for pairing with <@{VICTIM}|eve> and Evangeline Quirke "
                       "(evangeline.quirke@example.org)", request_key="T-3")
    services.call(kudos_service.receive_command, giver=VICTIM, text="<@UCAL> thanks",
                  request_key="T-4")
    services.call(kudos_service.receive_command, giver="UDEV",
                  text=f"<@{VICTIM}> thanks Evangeline", request_key="T-5")
    opened = services.call(polls.start_round, "helped", trigger="manual", sample=1.0)
    assert opened.asked == len(PEOPLE)
    services.call(network_service.change_champion, OWNER, VICTIM, True)
    services.call(network_service.take_snapshot, VICTIM, 30)  # she is an owner too
    services.call(network_service.export_for_owner, OWNER)
    with db.transaction(services.sessions) as s:
        ids = {p.slack_id: p.id for p in s.scalars(select(Person))}
        ws = services.workspace_id
        nudge = Nudge(workspace_id=ws, champion_id=ids[VICTIM], period="2026-W45",
                      status="sent")
        other = Nudge(workspace_id=ws, champion_id=ids["UALEX"], period="2026-W45",
                      status="sent")
        s.add_all([nudge, other])
        s.flush()
        s.add_all([Suggestion(workspace_id=ws, nudge_id=nudge.id, champion_id=ids[VICTIM],
                              kind="thank", subject_id=ids["UBEA"], arm="shown"),
                   Suggestion(workspace_id=ws, nudge_id=other.id, champion_id=ids["UALEX"],
                              kind="connect", subject_id=ids["UBEA"],
                              other_id=ids[VICTIM], arm="shown"),
                   Suggestion(workspace_id=ws, nudge_id=other.id, champion_id=ids["UALEX"],
                              kind="thank", subject_id=ids["UCAL"], arm="shown")])


def test_forgetme_leaves_no_trace_in_any_table_file_or_log(
        database_url: str, tmp_path: Path, umask_022: None,
        caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    services = make_services(database_url, data, PEERPULSE_OWNERS=f"{OWNER},{VICTIM}")
    engine = services.sessions.kw["bind"]
    try:
        footprint(services)
        # A snapshot taken while she was opted out does not hold her: it stays.
        services.call(network_service.set_opt_out, VICTIM, True)
        services.clock = lambda: NOW + timedelta(minutes=5)
        without_her = services.call(network_service.take_snapshot, OWNER, 30).folder
        services.call(network_service.set_opt_out, VICTIM, False)
        tables_before = {t for t, _ in grep_tables(engine)}
        # (nudges and suggestions point at her row by number; they go with it)
        assert {"people", "ties", "outbox_messages", "audit_log", "kudos_requests"} \
            <= tables_before
        assert len(grep_files(data, *NEEDLES)) > 5
        with services.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Nudge)) == 2

        caplog.set_level(logging.DEBUG)
        erased = services.call(network_service.forget_me, VICTIM)

        assert erased == 7  # 4 seeded ties, and kudos from her, to her, and to her and Bea
        assert grep_tables(engine) == []
        assert grep_files(data, *NEEDLES) == []
        assert grep_files(tmp_path, *NEEDLES) == []  # the SQLite database, -wal, -shm too
        assert find("\n".join(r.getMessage() for r in caplog.records)) == []
        assert without_her.exists()
        with services.sessions() as s:
            tomb = s.scalars(select(Person).where(Person.slack_id.like("forgotten:%"))).one()
            assert tomb.opted_out and not tomb.is_champion and tomb.tz is None
            assert s.scalar(select(func.count()).select_from(Nudge)) == 1
            assert s.scalar(select(func.count()).select_from(Suggestion)) == 1
            reasons = set(s.scalars(select(Tie.reason).where(Tie.reason.is_not(None))))
            assert "for pairing with and someone (someone)" in reasons
            erasures = s.scalars(select(AuditEntry).where(
                AuditEntry.action == "privacy.erase")).all()
            assert [e.actor for e in erasures] == ["erased-person"]
    finally:
        engine.dispose()


def test_a_forgotten_person_stays_out_until_they_opt_in(database_url: str, tmp_path: Path
                                                        ) -> None:
    with SlackSandbox() as slack:
        slack.add_users(PEOPLE)
        stays_out(make_services(database_url, tmp_path / "data",
                                WebClient(token=slack.token, base_url=slack.base_url)),
                  tmp_path)


def stays_out(services: Services, tmp_path: Path) -> None:
    eve = next(u for u in PEOPLE if u["id"] == VICTIM)
    try:
        services.call(network_service.forget_me, VICTIM)
        # The roster sync and Slack events see the tombstone and learn nothing.
        with db.transaction(services.sessions) as s:
            ws = s.get(Workspace, services.workspace_id)
            assert ws is not None
            again = apply_user(s, ws, eve)
            assert again is not None and again.opted_out and again.slack_id != VICTIM
        assert grep_tables(services.sessions.kw["bind"]) == []
        # Kudos to her are refused without a word about who she was.
        with pytest.raises(KudosRejected, match="doesn't take part in PeerPulse"):
            services.call(kudos_service.from_command, giver="UALEX",
                          text=f"<@{VICTIM}> thanks", request_key="T-9")
        # An HR file that still lists her (by id, by email, as a manager) imports.
        roster = tmp_path / "roster.csv"
        roster.write_text("slack_id,email,team,manager\n"
                          f"{VICTIM},,Lab,\n,Evangeline.Quirke@example.org,Lab,\n"
                          f"UDEV,,Lab,{VICTIM}\n")
        assert services.call(roster_service.import_file, roster).rows == 1
        assert grep_tables(services.sessions.kw["bind"]) == []
        # Her own controls say plainly that nothing is held.
        for use_case in (network_service.my_data, network_service.forget_me):
            with pytest.raises(erasure.NothingHeld, match="holds nothing about you"):
                services.call(use_case, VICTIM)
        services.call(network_service.set_opt_out, VICTIM, True)  # out already: fine
        # Opting in brings her back, with no history; Slack's profile says who she is.
        services.call(network_service.set_opt_out, VICTIM, False)
        mine = services.call(network_service.my_data, VICTIM)
        assert mine.profile["real_name"] == "Evangeline Quirke"
        assert not mine.profile["opted_out"] and mine.given == mine.received == {}
    finally:
        services.sessions.kw["bind"].dispose()


# PRIVACY.md says what the code does ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def section_of(doc: str, title: str) -> str:
    return doc.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_privacy_md_explains_exactly_the_scopes_the_manifest_asks_for() -> None:
    doc = (ROOT / "PRIVACY.md").read_text(encoding="utf-8")
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    asked = set(manifest["oauth_config"]["scopes"]["bot"])
    table = section_of(doc, "Slack permissions")
    explained = set(re.findall(r"^\| `([a-z_:.]+)` \| \S", table, re.MULTILINE))
    assert explained == asked


def test_privacy_md_states_the_retention_defaults_and_every_right() -> None:
    doc = (ROOT / "PRIVACY.md").read_text(encoding="utf-8")
    defaults = load_settings(None)
    kept = section_of(doc, "How long it is kept")
    assert (f"| {defaults.tie_retention_months} months | `PEERPULSE_TIE_RETENTION_MONTHS` |"
            in kept)
    assert (f"| {defaults.snapshot_retention_days} days | "
            "`PEERPULSE_SNAPSHOT_RETENTION_DAYS` |" in kept)
    job = next(j for j in jobs.schedule(BackgroundScheduler(), make_bare_services(defaults))
               if j.id == "retention-purge")
    assert f"{job.when['hour']:02d}:{job.when['minute']:02d}" in kept
    rights = section_of(doc, "Your rights, and how to use each")
    for command in ("mydata", "optout", "optin", "forgetme"):
        assert f"`/network {command}`" in rights
        assert command in network_commands()
    assert "Pause polls for me" in rights  # the button's words
    assert '"Pause polls for me"' in (ROOT / "bot" / "ui.py").read_text(encoding="utf-8")


def make_bare_services(settings: Settings) -> Services:
    return Services(settings=settings, sessions=sessionmaker(),
                    client=WebClient(base_url="http://127.0.0.1:9/api/"))


def network_commands() -> set[str]:
    from handlers.commands import NETWORK

    return set(NETWORK)
