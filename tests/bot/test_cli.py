"""The `peerpulse` command line: one-line reasons, .env, modes, and no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError, load_settings


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, text=True,
                          capture_output=True, env={**base, **(env or {})}, timeout=60)


def test_run_without_a_token_names_the_variable_and_how_to_get_it(tmp_path: Path) -> None:
    done = run_cli("run", cwd=tmp_path)
    assert done.returncode == 1
    assert "SLACK_BOT_TOKEN is not set" in done.stderr and "manifest.yml" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_http_mode_needs_the_signing_secret(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\n")
    done = run_cli("run", "--http", cwd=tmp_path)
    assert done.returncode == 1 and "SLACK_SIGNING_SECRET is not set" in done.stderr


def test_invalid_setting_is_one_line(tmp_path: Path) -> None:
    done = run_cli("db", "upgrade", cwd=tmp_path, env={"PEERPULSE_KUDOS_DAILY_CAP": "lots"})
    assert done.returncode == 1
    assert "invalid setting PEERPULSE_KUDOS_DAILY_CAP" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_db_upgrade_and_export_work_from_any_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    done = run_cli("db", "upgrade", cwd=elsewhere, env={"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout
    done = run_cli("export", "--out", "out", cwd=elsewhere, env={"DATABASE_URL": url})
    assert done.returncode == 1 and "no workspace recorded yet" in done.stderr


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("PEERPULSE_OWNERS=U1, U2\nSLACK_API_URL=http://x/api\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.owners == ("U1", "U2") and settings.slack_api_url == "http://x/api/"
    with pytest.raises(ConfigError, match="PEERPULSE_MIN_GROUP_SIZE"):
        load_settings(None, PEERPULSE_MIN_GROUP_SIZE=0)


def test_app_token_selects_socket_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.server

    chosen: list[str] = []
    monkeypatch.setattr(bot.server, "serve_socket_mode", lambda s: chosen.append("socket"))
    monkeypatch.setattr(bot.server, "serve_http",
                        lambda s, h, p, **_: chosen.append(f"http:{p}"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert cli.main(["run"]) == 0
    assert cli.main(["run", "--http", "--port", "3999"]) == 0
    monkeypatch.delenv("SLACK_APP_TOKEN")
    assert cli.main(["run"]) == 0
    assert chosen == ["socket", "http:3999", "http:3000"]


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out


# ---------------------------------------------------------------------- start-up in HTTP mode

def _refused_start(tmp_path: Path, **env: str) -> str:
    """Run `peerpulse run --http` as a subprocess; it must exit non-zero with one line."""
    from bot.devkit.botprocess import free_port

    base = {"SLACK_BOT_TOKEN": "xoxb-sandbox", "SLACK_SIGNING_SECRET": "s",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    done = run_cli("run", "--http", "--host", "127.0.0.1", "--port", str(free_port()),
                   cwd=tmp_path, env={**base, **env})
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0, done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "Worker failed to boot" not in done.stderr
    assert lines[0].startswith("peerpulse run: ")
    return lines[0]


@pytest.mark.slow
def test_http_mode_with_a_token_slack_refuses_stops_with_one_line(tmp_path: Path) -> None:
    from bot.devkit.sandbox import SlackSandbox

    with SlackSandbox(token="xoxb-the-real-one") as sandbox:
        line = _refused_start(tmp_path, SLACK_API_URL=sandbox.base_url,
                              SLACK_BOT_TOKEN="xoxb-wrong")
        assert "Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN" in line
        assert [c.method for c in sandbox.calls()] == ["auth.test"]


@pytest.mark.slow
def test_http_mode_with_slack_unreachable_stops_with_one_line(tmp_path: Path) -> None:
    from bot.devkit.botprocess import free_port

    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    line = _refused_start(tmp_path, SLACK_API_URL=closed)
    assert f"cannot reach Slack at {closed}" in line and "Connection refused" in line


@pytest.mark.slow
@pytest.mark.parametrize(("name", "value", "reason"), [
    ("PEERPULSE_TIMEZONE", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
    ("PEERPULSE_POLL_SCHEDULE", "helped=fri 25:00", "bad time in poll schedule"),
    ("PEERPULSE_POLL_SCHEDULE", "helped=xyz 10:00", "bad days in poll schedule"),
    ("PEERPULSE_OWNERS", "alice@example.com", "not a member id"),
    ("PEERPULSE_POLL_QUESTIONS", "helped,nosuch", "unknown poll question(s) nosuch"),
    ("PEERPULSE_KUDOS_CHANNEL", "#general", "is a channel name"),
    ("DATABASE_URL", "mysql://u:p@localhost/peerpulse", "supports SQLite"),
])
def test_http_mode_with_a_bad_setting_stops_with_one_line(tmp_path: Path, name: str,
                                                          value: str, reason: str) -> None:
    line = _refused_start(tmp_path, SLACK_API_URL="http://127.0.0.1:9/api/", **{name: value})
    assert line.startswith(f"peerpulse run: invalid setting {name}: ") and reason in line


@pytest.mark.slow
def test_http_mode_on_a_busy_port_stops_with_one_line(tmp_path: Path) -> None:
    import socket

    from bot.devkit.sandbox import SlackSandbox

    with SlackSandbox() as sandbox, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("run", "--http", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path,
                       env={"SLACK_BOT_TOKEN": sandbox.token, "SLACK_SIGNING_SECRET": "s",
                            "SLACK_API_URL": sandbox.base_url})
    assert done.returncode == 1
    assert done.stderr.strip() == f"peerpulse run: cannot listen on 127.0.0.1:{port}: " \
                                  "Address already in use"


# ---------------------------------------------------------------------- CLI edges

def _bot_database(tmp_path: Path, people: int = 6) -> str:
    """A database as the bot leaves it: migrated, its workspace recorded, ``people`` people."""
    from bot import db
    from bot.app import build_services
    from bot.services.roster import apply_user
    from bot.services.workspace import ensure_workspace

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    services = build_services(load_settings(None, DATABASE_URL=url))
    with db.transaction(services.sessions) as s:
        ws = ensure_workspace(s, "T1", "Acme")
        for n in range(people):
            apply_user(s, ws, {"id": f"U{n:03d}", "name": f"p{n}", "real_name": f"P {n}"})
    services.sessions.kw["bind"].dispose()
    return url


def _rounds(url: str) -> int:
    from sqlalchemy import create_engine, func, select

    from bot.models import PollRound

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(PollRound)) or 0
    engine.dispose()
    return int(count)


@pytest.mark.parametrize("command", [["export", "--out", "out"], ["poll", "status"],
                                     ["poll", "send-now"], ["roster", "import", "r.csv"]])
def test_commands_on_the_bots_data_create_no_database(tmp_path: Path, command: list[str]
                                                      ) -> None:
    folder, home = tmp_path / "empty", tmp_path / "home"
    folder.mkdir()
    done = run_cli(*command, cwd=folder, env={"HOME": str(home)})
    assert done.returncode == 1
    assert done.stderr.strip() == (f"peerpulse {command[0]}: no database at peerpulse.db "
                                   "(DATABASE_URL): run the bot there first (peerpulse run), "
                                   "or point DATABASE_URL at its database")
    assert list(folder.iterdir()) == []


def test_send_now_wait_without_a_token_opens_no_round(tmp_path: Path) -> None:
    url = _bot_database(tmp_path)
    done = run_cli("poll", "send-now", "--wait", "5", cwd=tmp_path, env={"DATABASE_URL": url})
    assert done.returncode == 1 and "SLACK_BOT_TOKEN is not set" in done.stderr
    assert _rounds(url) == 0


def test_send_now_says_why_nobody_is_asked_and_opens_no_empty_round(tmp_path: Path) -> None:
    url = _bot_database(tmp_path)
    env = {"DATABASE_URL": url}
    first = run_cli("poll", "send-now", "--sample", "1", cwd=tmp_path, env=env)
    assert first.returncode == 0 and "6 people asked" in first.stdout
    again = run_cli("poll", "send-now", cwd=tmp_path, env=env)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "peerpulse poll: Nobody can be asked now, so no round was opened: of 6 people, "
        "0 opted out, 0 paused their polls and 6 were asked in the last 14 days "
        "(PEERPULSE_POLL_MIN_DAYS_BETWEEN).")
    assert _rounds(url) == 1
    nobody = tmp_path / "empty"
    nobody.mkdir()
    url = _bot_database(nobody, people=0)
    done = run_cli("poll", "send-now", cwd=nobody, env={"DATABASE_URL": url})
    assert done.returncode == 1 and "no people are known yet" in done.stderr
    assert _rounds(url) == 0


def test_status_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`peerpulse poll status | head`: the reader leaving early is not an error."""
    import os

    url = _bot_database(tmp_path)
    assert run_cli("poll", "send-now", cwd=tmp_path, env={"DATABASE_URL": url}).returncode == 0
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    try:
        done = subprocess.run([sys.executable, "-m", "bot.cli", "poll", "status"], cwd=tmp_path,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                   "DATABASE_URL": url})
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (0, "")
