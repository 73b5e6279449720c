"""The deployment files (Dockerfile, compose.yml, .dockerignore, docs/deploy.md), checked
offline: there is no Docker daemon on the development machine or in CI, so nothing is built
or pulled. What can be checked without one is: the files parse, every command they run is a
real `peerpulse` command with real options, every setting they pass is one the bot reads,
the health check really tells a healthy bot from an unhealthy one, and the compose layout
is the one docs/deploy.md describes."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
BOTS = ("bot-1", "bot-2", "bot-3")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    found, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        found.append((word.upper(), rest.strip()))
        pending = ""
    return found


def exec_form(args: str) -> list[str]:
    """A JSON exec form (``["peerpulse", "run"]``) as its list."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def check_peerpulse_command(argv: list[str]) -> Any:
    """Parse a `peerpulse ...` command line with the real CLI parser; fail on any option or
    command the CLI does not have."""
    assert argv[0] == "peerpulse", argv
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"not a valid peerpulse command: {shlex.join(argv)}")


# ---------------------------------------------------------------------- Dockerfile

def test_the_image_is_python_311_slim_and_runs_as_a_user_without_privileges() -> None:
    steps = instructions()
    bases = [args.split()[0] for word, args in steps if word == "FROM"]
    assert bases and all(b == "python:3.11-slim" for b in bases)
    final = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    users = [args for word, args in steps[final:] if word == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    user_at = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    cmd_at = max(i for i, (word, _) in enumerate(steps) if word == "CMD")
    assert user_at < cmd_at, "the command runs as that user"


def test_the_image_installs_the_package_without_dev_extras() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "[dev]" not in text and "-e " not in text
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    assert "pip wheel" in runs and "pip install" in runs
    # What it copies is what pyproject builds from: the packages, README and LICENSE.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sources = set()
    for word, args in instructions():
        if word == "COPY" and "--from" not in args:
            sources.update(args.split()[:-1])
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]
                ["include"]}
    assert packages <= sources
    assert {"pyproject.toml", project["project"]["readme"],
            *project["project"]["license-files"]} <= sources


def test_the_dockerfile_command_and_release_step_are_real_peerpulse_commands() -> None:
    cmd = exec_form(next(args for word, args in instructions() if word == "CMD"))
    run = check_peerpulse_command(cmd)
    assert (run.http, run.port, cmd[1]) == (True, 3000, "run")
    assert run.workers is not None and run.workers >= 1
    assert ("EXPOSE", "3000") in instructions()
    # The release step is written out for operators (and run by compose's migrate).
    text = (ROOT / "Dockerfile").read_text()
    release = re.search(r"docker run .*? peerpulse (db upgrade)", text)
    assert release is not None
    check_peerpulse_command(["peerpulse", *release.group(1).split()])


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = json.dumps({"ok": self.status == 200}).encode()
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def healthz() -> Iterator[tuple[ThreadingHTTPServer, type[_Health]]]:
    handler = type("Health", (_Health,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def run_probe(argv: list[str], port: int) -> int:
    """Run a health-check command against a local /healthz on ``port`` instead of 3000."""
    assert argv[0] == "python"
    probe = [sys.executable, *(a.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
                               for a in argv[1:])]
    return subprocess.run(probe, capture_output=True, timeout=30).returncode


def test_the_health_checks_pass_on_200_and_fail_on_503(
        healthz: tuple[ThreadingHTTPServer, type[_Health]], compose: dict[str, Any]) -> None:
    server, handler = healthz
    port = server.server_address[1]
    docker = exec_form(next(args for word, args in instructions() if word == "HEALTHCHECK")
                       .split(" CMD ", 1)[1])
    compose_probe = compose["services"]["bot-1"]["healthcheck"]["test"]
    assert compose_probe[0] == "CMD"
    for probe in (docker, compose_probe[1:]):
        assert "http://127.0.0.1:3000/healthz" in " ".join(probe)
        handler.status = 200
        assert run_probe(probe, port) == 0
        handler.status = 503
        assert run_probe(probe, port) != 0


def test_dockerignore_keeps_secrets_and_local_data_out_of_the_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".env", ".venv/", ".git/", "*.db", "peerpulse-data/"} <= ignored
    sources = {s for word, args in instructions() if word == "COPY" and "--from" not in args
               for s in args.split()[:-1]}
    assert not sources & {".", ".env", "tests", "bench"}, "the image copies only the package"


# ---------------------------------------------------------------------- compose.yml

def test_compose_runs_postgres_16_with_a_volume_and_a_health_check(
        compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:16")
    assert any(v.split(":")[1] == "/var/lib/postgresql/data" for v in db["volumes"])
    assert db["volumes"][0].split(":")[0] in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["environment"]["POSTGRES_DB"] == "peerpulse"


def test_compose_migrates_once_before_the_replicas_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    check_peerpulse_command(migrate["command"])
    assert migrate["command"][1:] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    for name in BOTS:
        waits = services[name]["depends_on"]
        assert waits["migrate"]["condition"] == "service_completed_successfully"
        assert waits["db"]["condition"] == "service_healthy"


def test_compose_replicas_share_the_database_and_the_data_volume(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    known = {field.alias for field in Settings.model_fields.values()}
    for name in BOTS:
        bot = services[name]
        run = check_peerpulse_command(bot["command"])
        assert run.http and run.port == 3000 and run.workers >= 1
        assert bot["env_file"] == ".env"
        env = bot["environment"]
        assert set(env) <= known, f"settings the bot does not read: {set(env) - known}"
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@db:5432/peerpulse" in env["DATABASE_URL"]
        volume, mount = bot["volumes"][0].split(":")
        assert volume in compose["volumes"] and mount == env["PEERPULSE_DATA_DIR"]
    # One definition for every replica (and the release step): the same image, settings,
    # volume and command.
    first = {k: v for k, v in services[BOTS[0]].items()}
    assert all(services[name] == first for name in BOTS[1:])


def test_compose_balances_round_robin_over_every_replica(compose: dict[str, Any]) -> None:
    lb = compose["services"]["lb"]
    assert lb["image"].split(":")[0] in ("nginx", "haproxy")
    conf = compose["configs"][lb["configs"][0]["source"]]["content"]
    upstream = re.findall(r"server (\S+):(\d+)", conf)
    assert sorted(host for host, _ in upstream) == sorted(BOTS)
    assert {port for _, port in upstream} == {"3000"}
    # Round-robin is nginx's default: no hashing, no sticky sessions.
    assert not re.search(r"\b(ip_hash|hash|sticky|least_conn)\b", conf)
    assert "proxy_pass http://peerpulse" in conf
    # Compose would substitute a single `$` itself: nginx's variables are written `$$`.
    assert not re.search(r"(?<!\$)\$(?!\$)", conf)
    # A POST that reached a replica is never sent to another (no non_idempotent).
    assert "non_idempotent" not in conf
    assert lb["ports"][0].endswith(":8080") and "listen 8080" in conf


def test_compose_takes_every_secret_from_the_environment(compose: dict[str, Any]) -> None:
    text = (ROOT / "compose.yml").read_text()
    assert "POSTGRES_PASSWORD:?" in text, "no default password"
    assert not re.search(r"xox[bp]-|SLACK_SIGNING_SECRET:", text)


# ---------------------------------------------------------------------- docs

def test_the_deploy_guide_covers_what_the_issue_asks_and_the_readme_points_to_it() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for heading in ("HTTP or Socket Mode", "Replicas behind a load balancer",
                    "The release step: migrations", "Leader election", "Sizing", "Backups",
                    "Upgrades", "Privacy reminders"):
        assert f"## {heading}" in guide
    assert "pg_dump" in guide and ".backup" in guide and "PRIVACY.md" in guide
    assert "docs/deploy.md" in (ROOT / "README.md").read_text()
    for setting in re.findall(r"`(PEERPULSE_[A-Z_]+)", guide):
        assert setting in {f.alias for f in Settings.model_fields.values()} | {
            "PEERPULSE_PORT"}, f"docs/deploy.md names an unknown setting {setting}"
