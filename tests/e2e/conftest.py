"""End-to-end fixtures: the local Slack sandbox and the real bot running over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot import db
from bot.devkit.botprocess import BotProcess
from bot.devkit.sandbox import SlackSandbox, wait_for
from bot.devkit.signed_client import SignedClient
from bot.devkit.simulation import Organisation, simulate_organisation

SIGNING_SECRET = "e2e-signing-secret"
OWNER = "UOWNER"


@dataclass
class Stack:
    sandbox: SlackSandbox
    bot: BotProcess
    slack: SignedClient
    org: Organisation
    engine: Engine


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    wait_for(check, timeout, interval=0.1, what=what)


@pytest.fixture
def org() -> Organisation:
    return simulate_organisation(n_people=40, n_teams=4, seed=3)


@pytest.fixture
def sandbox(org: Organisation) -> Iterator[SlackSandbox]:
    with SlackSandbox(max_page_size=15) as sb:
        sb.add_users(org.users)
        yield sb


def launch(sandbox: SlackSandbox, org: Organisation, workdir: Path,
           database_url: str | None = None, *, name: str = "bot", args: Sequence[str] = (),
           **env: str) -> Stack:
    """Start the real bot against ``sandbox`` (``args``: more `peerpulse run` options, e.g.
    ``["--workers", "2"]``; ``name``: its log file's) and wait until it answers /healthz."""
    url = database_url or f"sqlite:///{workdir / 'bot.db'}"
    bot = BotProcess({
        "SLACK_BOT_TOKEN": sandbox.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": sandbox.base_url,
        "DATABASE_URL": url,
        "PEERPULSE_OWNERS": OWNER,
        **env,
    }, log_path=workdir / f"{name}.log", cwd=workdir, args=args)
    bot.start()
    slack = SignedClient(bot.url, SIGNING_SECRET, sandbox.team_id, response_urls=sandbox)
    return Stack(sandbox, bot, slack, org, db.make_engine(url))


def wait_for_roster(stack: Stack) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from bot.models import Workspace

    def synced() -> bool:
        with Session(stack.engine) as s:
            ws = s.scalars(select(Workspace)).first()
            return ws is not None and ws.roster_synced_at is not None
    wait_until(synced, what="roster sync")


@pytest.fixture
def start_stack(sandbox: SlackSandbox, org: Organisation, tmp_path: Path
                ) -> Iterator[Callable[..., Stack]]:
    """Call to start the bot (after arranging faults on the sandbox)."""
    started: list[Stack] = []

    def start(database_url: str | None = None, **env: str) -> Stack:
        stack = launch(sandbox, org, tmp_path, database_url, **env)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.bot.stop()
        stack.engine.dispose()
