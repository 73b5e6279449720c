"""`peerpulse` command line: every command reads `.env`, and fails with a one-line reason."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.errors import PeerPulseError

if TYPE_CHECKING:
    from bot.services import Services

PROG = "peerpulse"


class CommandFailed(Exception):
    """Raised by a command to stop with a one-line reason and a non-zero exit code."""


def _setup_logging(settings: Settings | None = None, verbose: bool = False) -> None:
    level = "DEBUG" if verbose else (settings.log_level if settings else "INFO")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("apscheduler", "slack_sdk", "slack_bolt", "alembic", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _services(settings: Settings, team: str | None = None, *, workspace: bool = True
              ) -> Services:
    """The wiring every command shares (`bot.app.build_services`: migrations applied),
    serving the workspace the bot recorded (``--team`` picks one of several)."""
    from bot.app import build_services

    if workspace:
        _require_database(settings)
    services = build_services(settings)
    return services.use_stored_workspace(team) if workspace else services


def _require_database(settings: Settings) -> None:
    """A command that needs the bot's data must not create an empty database as a side
    effect (SQLite would create the file; migrations, its tables)."""
    from bot.db import sqlite_file

    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise CommandFailed(f"no database at {path} (DATABASE_URL): run the bot there first "
                            "(peerpulse run), or point DATABASE_URL at its database")


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Who took snapshots, exported data or changed settings, newest first."""
    import json

    from bot.services.network import audit_entries

    services = _services(settings, workspace=False)
    with services.sessions() as session:
        entries = audit_entries(session, args.limit, args.action)
        rows = [{"at": e.at.isoformat(timespec="seconds"), "actor": e.actor,
                 "action": e.action, "detail": e.detail} for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print(f"{PROG}: the audit log is empty")
    for r in rows:
        detail = ", ".join(f"{k}={v}" for k, v in (r["detail"] or {}).items()
                           if k != "headline")
        print(f"{r['at']}  {r['actor']:<12} {r['action']:<16} {detail}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    settings.require_slack_access()  # one SLACK_BOT_TOKEN, or installs through OAuth
    _setup_logging(settings, args.verbose)
    if settings.oauth and settings.socket_mode and not args.http:
        raise ConfigError("installs through OAuth (SLACK_CLIENT_ID) need HTTP mode for "
                          "/slack/install: run with --http, or unset SLACK_APP_TOKEN")
    if settings.socket_mode and not args.http:
        from bot.server import serve_socket_mode

        print(f"{PROG}: starting in Socket Mode", file=sys.stderr)
        serve_socket_mode(settings)
        return 0
    settings.require("SLACK_SIGNING_SECRET")
    from bot.server import serve_http, worker_count

    try:
        worker_count(settings.database_url, args.workers)
    except ConfigError as exc:
        print(f"{PROG} run: {exc}", file=sys.stderr)
        return 2
    # serve_http checks the port, the database and the token first (one line on failure),
    # then says where it serves.
    serve_http(settings, args.host, args.port, workers=args.workers)
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot import db

    db.upgrade(settings.database_url)
    print(f"{PROG}: database at {_safe_url(settings.database_url)} is up to date")
    return 0


def cmd_roster_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services import roster

    result = _services(settings, args.team).call(roster.import_file, Path(args.file))
    print(
        f"{PROG}: imported {result.rows} row(s) from {args.file}; {result.changed} field(s) changed"
    )
    return 0


def cmd_roster_sync(args: argparse.Namespace, settings: Settings) -> int:
    settings.require_slack_access()
    _setup_logging(settings, args.verbose)
    from bot.app import identify_workspace
    from bot.services import roster

    if settings.oauth:  # an installed tenant, with its own token
        services = _services(settings, args.team)
    else:
        services = _services(settings, workspace=False)
        identify_workspace(services)
    result = services.call(roster.sync)
    print(f"{PROG}: roster synced: {result.summary()}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.export import export

    result = _services(settings, args.team).call(export, Path(args.out))
    print(
        f"{PROG}: wrote {result.ties} tie(s) to {result.ties_path} and "
        f"{result.people} people to {result.people_path}"
    )
    return 0


def cmd_poll_send_now(args: argparse.Namespace, settings: Settings) -> int:
    """Open a poll round now, through the same service the schedule uses."""
    from bot.services import polls

    if args.sample is not None and not 0 < args.sample <= 1:
        raise CommandFailed("--sample must be a fraction in (0, 1], e.g. 0.25")
    if args.wait:  # checked first: a round opened and then left undelivered helps nobody
        settings.require_slack_access()
    services = _services(settings, args.team)
    opened = services.call(polls.start_round, args.question, trigger="cli", sample=args.sample)
    print(f"{PROG}: poll round {opened.round_id} ({opened.question}): {opened.asked} people "
          f"asked, {opened.queued} DMs queued; closes {opened.closes_at:%Y-%m-%d %H:%M} UTC")
    if args.wait:
        assert services.delivery is not None
        report = services.delivery.drain(timeout=args.wait)
        print(f"{PROG}: sent {report.sent}, failed {report.failed}, "
              f"{report.rate_limited} rate-limited and retried")
    else:
        print(f"{PROG}: the running bot delivers them (at most "
              f"{settings.outbox_per_minute}/min)")
    return 0


def cmd_digest_send_now(args: argparse.Namespace, settings: Settings) -> int:
    """Post this period's champion digest now, through the schedule's code path."""
    from bot.services import champions

    result = _services(settings, args.team).call(champions.send_digest, trigger="cli",
                                                 dry_run=args.dry_run)
    if not result.channels:
        raise CommandFailed("no champion channel is set: PEERPULSE_CHAMPION_CHANNELS, or "
                            "the channels in the owners' settings (/network settings)")
    if args.dry_run:
        print(champions.plain_text(result.blocks))
        print(f"{PROG}: dry run: the digest for {result.period} would go to "
              f"{', '.join(result.channels)} with its picture; nothing recorded or posted")
        return 0
    if result.queued:
        print(f"{PROG}: digest {result.period} queued for {', '.join(result.queued)} with "
              "its picture; the running bot posts it")
    for channel in result.already:
        print(f"{PROG}: {channel} already has the digest for {result.period}; not posted again")
    return 0


def cmd_nudge_send_now(args: argparse.Namespace, settings: Settings) -> int:
    """DM each champion their nudge now (the schedule's code path), or say why not."""
    from bot.services import champions

    plans = _services(settings, args.team).call(champions.send_nudges, trigger="cli",
                                                dry_run=args.dry_run)
    if not plans:
        raise CommandFailed("no champions yet: mark them with /network champion add @someone, "
                            "the roster's champion column or PEERPULSE_CHAMPION_USERGROUP")
    for plan in plans:
        print(f"{PROG}: {champions.describe_plan(plan, dry_run=args.dry_run)}")
        if args.dry_run and plan.action == "send":
            for item in plan.shown:
                print(f"    shown: {champions.describe(item)}")
            for item in plan.withheld:
                print(f"    withheld at random (the holdout): {champions.describe(item)}")
    if args.dry_run:
        print(f"{PROG}: dry run: nothing recorded or sent")
    return 0


def cmd_poll_status(args: argparse.Namespace, settings: Settings) -> int:
    """Recent rounds with their response rates (small teams suppressed)."""
    from bot.services import polls

    rounds, queue = _services(settings, args.team).call(polls.status, args.limit)
    print("outbox: " + (", ".join(f"{n} {s}" for s, n in sorted(queue.items())) or "empty"))
    for r in rounds:
        rate = "-" if r.response_rate is None else f"{r.response_rate:.0%}"
        teams = ", ".join(f"{t} {'-' if v is None else f'{v:.0%}'}" for t, v in r.by_team.items())
        state = "closed" if r.closed else "open"
        print(f"round {r.round_id} {r.question} {r.opened_at:%Y-%m-%d} {state}: asked {r.asked}, "
              f"delivered {r.delivered}, answered {r.answered} ({rate}); by team: {teams}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.devkit.demo import run_demo

    return run_demo(
        out_dir=Path(args.out),
        people=args.people,
        teams=args.teams,
        seed=args.seed,
        weeks=args.weeks,
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _positive_int(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="PeerPulse: see and grow your organisation's informal network."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (Socket Mode if SLACK_APP_TOKEN is set)")
    run.add_argument("--http", action="store_true", help="HTTP mode even if SLACK_APP_TOKEN is set")
    run.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    run.add_argument("--host", default="0.0.0.0", help="HTTP bind address (default 0.0.0.0)")
    run.add_argument("--workers", type=_positive_int, default=None,
                     help="HTTP worker processes (default: one per core on PostgreSQL; "
                          "SQLite serves from one)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the whole bot against a local Slack sandbox")
    demo.add_argument("--out", default="demo-output", help="output folder (default ./demo-output)")
    demo.add_argument("--people", type=int, default=150, help="simulated people (default 150)")
    demo.add_argument("--teams", type=int, default=8, help="simulated teams (default 8)")
    demo.add_argument("--weeks", type=int, default=6, help="simulated weeks (default 6)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.set_defaults(func=cmd_demo)

    sub.add_parser(
        "analyze",
        help="offline analysis of a tie list (see 'peerpulse analyze -h')",
        add_help=False,
    )

    export = sub.add_parser("export", help="write stored ties and people as CSV")
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--team", help="Slack team id, when several workspaces are stored")
    export.set_defaults(func=cmd_export)

    dbp = sub.add_parser("db", help="database maintenance")
    dbsub = dbp.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    dbsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    roster = sub.add_parser("roster", help="people and formal structure")
    rsub = roster.add_subparsers(dest="roster_command", metavar="ACTION", required=True)
    imp = rsub.add_parser("import", help="load team, manager, title from a CSV")
    imp.add_argument("file", help="CSV with slack_id or email, and team, manager, title")
    imp.add_argument("--team", help="Slack team id, when several workspaces are stored")
    imp.set_defaults(func=cmd_roster_import)
    rsync = rsub.add_parser("sync", help="sync people from Slack now")
    rsync.add_argument("--team", help="with installs through OAuth: the installed team id "
                                      "(or enterprise id), when several are stored")
    rsync.set_defaults(func=cmd_roster_sync)

    audit = sub.add_parser("audit", help="show the audit log (snapshots, exports, settings)")
    audit.add_argument("--limit", type=int, default=50, help="entries to show (default 50)")
    audit.add_argument("--action", help="only actions starting with this, e.g. settings")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(func=cmd_audit)

    poll = sub.add_parser("poll", help="micro-poll rounds")
    psub = poll.add_subparsers(dest="poll_command", metavar="ACTION", required=True)
    now = psub.add_parser("send-now", help="open a poll round now (same path as the schedule)")
    now.add_argument("--question", help="question key: helped, advice, energy or adopted "
                     "(default: the first enabled question)")
    now.add_argument("--sample", type=float, help="fraction of people to ask (default: setting)")
    now.add_argument("--team", help="Slack team id, when several workspaces are stored")
    now.add_argument("--wait", type=float, nargs="?", const=3600.0, default=None,
                     metavar="SECONDS", help="also deliver the DMs from here (without a "
                     "running bot), waiting at most SECONDS")
    now.set_defaults(func=cmd_poll_send_now)
    status = psub.add_parser("status", help="recent rounds and their response rates")
    status.add_argument("--limit", type=int, default=10)
    status.add_argument("--team", help="Slack team id, when several workspaces are stored")
    status.set_defaults(func=cmd_poll_status)

    for name, func, what in (
            ("digest", cmd_digest_send_now, "post this period's champion digest to each "
             "champion channel now (same path as the schedule)"),
            ("nudge", cmd_nudge_send_now, "DM each champion their nudge now (same path as the "
             "schedule); says why a champion is skipped")):
        group = sub.add_parser(name, help=f"champion {name}s")
        gsub = group.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
        send = gsub.add_parser("send-now", help=what)
        send.add_argument("--dry-run", action="store_true",
                          help="print what would be sent; record and send nothing")
        send.add_argument("--team", help="Slack team id, when several workspaces are stored")
        send.set_defaults(func=func)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "analyze":
        from analytics.report.cli import main as analyze_main

        return analyze_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        settings = load_settings()
        code = func(args, settings)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped early (`peerpulse poll status | head`): not a failure. Later
        # writes (the interpreter's last flush) go nowhere instead of failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ConfigError, CommandFailed) as exc:
        print(f"{PROG} {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 1
    except PeerPulseError as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last line of defence: one line, never a traceback
        from slack_sdk.errors import SlackApiError
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SlackApiError):
            reason = f"Slack answered {exc.response.get('error', exc.response.status_code)}"
        elif isinstance(exc, SQLAlchemyError):
            reason = f"database error: {str(exc.__cause__ or exc).splitlines()[0]}"
        elif isinstance(exc, OSError):
            reason = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        else:
            reason = f"{type(exc).__name__}: {_one_line(exc).splitlines()[0]}"
        if args.verbose:
            raise
        print(f"{PROG} {args.command}: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
