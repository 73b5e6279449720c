"""Load on the real bot over loopback (issue 14 item 3): signed slash commands, poll clicks
and events at a fixed rate, then the database checked for lost or doubled ties.

    .venv/bin/python bench/http_load.py [--rate 100] [--seconds 30]
        [--database sqlite|postgresql] [--workers N] [--replicas N]
    .venv/bin/python bench/http_load.py --url http://127.0.0.1:3000 --database-url URL \
        --signing-secret SECRET --owner UID  # a bot already running (its own Slack)

Without ``--url`` it starts the local Slack sandbox with a simulated organisation and
``peerpulse run --http`` against it (``bot.devkit.botprocess``), on a fresh SQLite file or a
fresh database on the local PostgreSQL (``scripts/postgres.sh``), waits for the roster, opens
a poll round to everyone (``peerpulse poll send-now``) and waits until its DMs are out.

The load is open-loop: request *i* is due at ``i / rate`` seconds whatever happened to the
others, and its latency is counted from that due time (a late generator cannot hide a slow
bot). It runs in a process of its own (asyncio, one connection per request) so that the
sandbox's threads do not delay it. The mix, all signed as Slack signs them:

- ``/kudos`` that must be stored (1-2 people, a unique reason) and ``/kudos`` that must be
  refused (no reason, or naming oneself);
- ``/network help`` by a programme owner, ``/network snapshot`` by someone who is not one
  (refused at the acknowledgement);
- poll answers (``block_actions`` naming two colleagues), and stale second clicks on an
  answered poll;
- ``reaction_added`` events (reaction kudos on) with unique event ids, and redeliveries of
  earlier ones with ``X-Slack-Retry-Num`` (some at the same instant as the original).

It prints the acknowledgement latency (p50/p95/p99/max) per kind and overall, throughput,
errors (non-2xx, timeouts, acks over Slack's 3 s), the CPU each party used (the bot's also
counting its work after the load), the ties: each stored kudos, answered poll and first
delivery must give exactly its ties, nothing else may give any, and when the work after the
acks (ties stored, DMs sent; `handlers.followups`) was done. Exit status 1 when a tie is lost
or doubled or a request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import math
import multiprocessing
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.devkit.signed_client import Response, SignedClient  # noqa: E402

SECRET = "bench-signing-secret"
SLACK_DEADLINE = 3.0
# Share of each kind in the load (they add up to 1).
MIX = {"kudos": 0.24, "kudos_refused": 0.08, "network_owner": 0.06, "network_other": 0.06,
       "poll_click": 0.16, "poll_stale": 0.03, "event": 0.27, "event_retry": 0.10}


# ---------------------------------------------------------------- the plan


@dataclass
class Planned:
    """One request: when it is due (seconds from the start), what it is, and its body."""

    at: float
    kind: str
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class _Planner(SignedClient):
    """The signed client's payload builders, recording bodies instead of sending them (the
    generator signs each one when it is sent, as Slack does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last: tuple[bytes, str, dict[str, str]] | None = None

    def send(self, body: bytes, content_type: str, **kwargs: Any) -> Response:
        self.last = (body, content_type, dict(kwargs.get("headers") or {}))
        return Response(0, {}, b"")

    def take(self) -> tuple[bytes, str, dict[str, str]]:
        assert self.last is not None
        last, self.last = self.last, None
        return last


@dataclass
class Expected:
    """What the database must hold afterwards."""

    tie_keys: set[str] = field(default_factory=set)   # origin keys that must exist once
    refused_keys: set[str] = field(default_factory=set)  # key prefixes that must give none
    event_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Poll:
    request_id: int
    user: str
    channel: str
    message: dict[str, Any]


def make_plan(rate: float, seconds: float, people: Sequence[str], owner: str,
              polls: Sequence[Poll], planner: _Planner, seed: int = 7,
              mix: dict[str, float] | None = None) -> tuple[list[Planned], Expected]:
    rng = random.Random(seed)
    kinds, weights = zip(*(mix or MIX).items(), strict=True)
    plan: list[Planned] = []
    expected = Expected()
    open_polls = list(polls)
    rng.shuffle(open_polls)
    answered: list[tuple[Poll, list[str]]] = []
    events: list[tuple[float, dict[str, Any], str]] = []
    others = [p for p in people if p != owner]
    run = secrets.token_hex(3)
    for i in range(int(rate * seconds)):
        at = i / rate
        kind = rng.choices(kinds, weights)[0]
        if kind == "poll_click" and not open_polls:
            kind = "poll_stale"
        if kind == "poll_stale" and not answered:
            kind = "kudos"
        if kind == "event_retry" and not events:
            kind = "event"
        headers: dict[str, str] = {}
        if kind in ("kudos", "kudos_refused"):
            giver, *to = rng.sample(others, 3)
            trigger = f"{int(time.time() * 1000)}.{i}.{giver}.{run}"
            if kind == "kudos":
                to = to[: rng.choice((1, 2))]
                text = " ".join(f"<@{r}>" for r in to) + f" bench {run} kudos {i} for the help"
                expected.tie_keys.update(f"kudos:{trigger}:{r}" for r in to)
            else:
                text = (f"<@{to[0]}>" if i % 2 else f"<@{giver}> thanks for me")
                expected.refused_keys.add(f"kudos:{trigger}:")
            planner.slash_command("/kudos", text, giver, trigger_id=trigger)
        elif kind == "network_owner":
            planner.slash_command("/network", "help", owner)
        elif kind == "network_other":
            planner.slash_command("/network", "snapshot", rng.choice(others))
        elif kind in ("poll_click", "poll_stale"):
            # A stale click repeats the first (a second copy of the DM, a double click):
            # whichever is handled first stands, and the other adds nothing.
            if kind == "poll_click":
                poll = open_polls.pop()
                named = rng.sample([p for p in others if p != poll.user], 2)
                answered.append((poll, named))
                expected.tie_keys.update(f"poll:{poll.request_id}:{n}" for n in named)
            else:
                poll, named = rng.choice(answered)
            planner.block_action(
                poll.user, "poll_pick", block_id=f"poll:{poll.request_id}",
                action_type="multi_users_select", action={"selected_users": named},
                channel_id=poll.channel, message=poll.message)
        elif kind == "event":
            reactor, author = rng.sample(people, 2)
            ts = f"{1_700_000_000 + i}.{rng.randrange(10**6):06d}"
            event = {"type": "reaction_added", "user": reactor, "reaction": "clap",
                     "item_user": author,
                     "item": {"type": "message", "channel": "C0GENERAL", "ts": ts}}
            event_id = f"Ev{run.upper()}{i:07d}"
            planner.event(event, event_id=event_id)
            events.append((at, event, event_id))
            expected.event_ids.add(event_id)
            expected.tie_keys.add(f"reaction:C0GENERAL:{ts}:{reactor}:{author}")
        else:  # a redelivery: half at once (a duplicate), half later (a retry)
            first_at, event, event_id = rng.choice(events[-50:])
            if rng.random() < 0.5:
                at = first_at + 0.001
            planner.event(event, event_id=event_id, retry_num=rng.randint(1, 3))
        body, content_type, extra = planner.take()
        headers.update(extra)
        plan.append(Planned(at, kind, body, content_type, headers))
    plan.sort(key=lambda p: p.at)
    return plan, expected


# ---------------------------------------------------------------- the generator


@dataclass(frozen=True)
class Result:
    kind: str
    status: int  # 0: no answer (timeout or connection error)
    latency: float  # seconds from the due time to the last byte of the answer
    late: float  # how late the generator sent it
    error: str = ""


def _sign(secret: str, body: bytes) -> tuple[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return ts, "v0=" + mac.hexdigest()


async def _send(target: tuple[str, int], item: Planned, due: float, secret: str,
                timeout: float) -> Result:
    loop = asyncio.get_running_loop()
    late = loop.time() - due
    ts, signature = _sign(secret, item.body)
    head = ["POST /slack/events HTTP/1.1", f"Host: {target[0]}:{target[1]}",
            f"Content-Type: {item.content_type}", f"Content-Length: {len(item.body)}",
            f"X-Slack-Request-Timestamp: {ts}", f"X-Slack-Signature: {signature}",
            "User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)", "Connection: close"]
    head += [f"{k}: {v}" for k, v in item.headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + item.body

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection(*target)
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            await reader.read()  # Connection: close, so the answer ends at EOF
            return int(status_line.split()[1])
        finally:
            writer.close()

    try:
        status = await asyncio.wait_for(exchange(), timeout)
        error = ""
    except TimeoutError:
        status, error = 0, "timeout"
    except (OSError, ValueError, IndexError) as exc:
        status, error = 0, type(exc).__name__
    return Result(item.kind, status, loop.time() - due, late, error)


async def _generate(plan: list[Planned], targets: list[tuple[str, int]], secret: str,
                    timeout: float) -> tuple[list[Result], float]:
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    tasks = []
    for i, item in enumerate(plan):
        due = start + item.at
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(
            _send(targets[i % len(targets)], item, due, secret, timeout)))
    results = list(await asyncio.gather(*tasks))
    return results, loop.time() - start


def generator_main(plan: list[Planned], targets: list[tuple[str, int]], secret: str,
                   timeout: float, conn: Any) -> None:
    """The load generator's process: sends the plan, returns results and its CPU time."""
    results, elapsed = asyncio.run(_generate(plan, targets, secret, timeout))
    t = os.times()
    conn.send((results, elapsed, t.user + t.system))
    conn.close()


# ---------------------------------------------------------------- measuring


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99)
    (2, 4)
    """
    ranked = sorted(values)
    if not ranked:
        return float("nan")
    rank = math.ceil(len(ranked) * q / 100)
    return ranked[max(0, min(len(ranked), rank) - 1)]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids(engine: Any) -> list[int]:
    """The server processes serving the bench's database (but this connection's)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text(
            "select pid from pg_stat_activity where datname = current_database() "
            "and pid <> pg_backend_pid()")).scalars())


def _descendants(pids: Sequence[int]) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children[int(stat.read_text().rsplit(")", 1)[1].split()[1])].append(
                int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, since boot)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by groups of processes between `start` and `stop`."""

    def __init__(self) -> None:
        self.before: dict[int, float] = {}
        self.machine = 0.0

    def start(self, pids: Sequence[int]) -> None:
        self.before = {p: _cpu_seconds(p) for p in pids}
        self.machine = _machine_busy()

    def used(self, pids: Sequence[int]) -> float:
        return sum(_cpu_seconds(p) - self.before.get(p, 0.0) for p in pids)


# ---------------------------------------------------------------- the bot and its database


def postgres_server_url() -> str:
    url = os.environ.get("PEERPULSE_TEST_POSTGRES_URL")
    if url:
        return url
    out = subprocess.run(["bash", str(ROOT / "scripts/postgres.sh")], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A fresh database beside ``server_url``'s, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"peerpulse_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_supports_workers(code: Path) -> bool:
    out = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--help"], cwd=code,
                         capture_output=True, text=True)
    return "--workers" in out.stdout


def wait(check: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


def people_in_db(engine: Any) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from bot.models import Person

    with Session(engine) as s:
        return int(s.scalar(select(func.count(Person.id))) or 0)


def open_poll_round(env: dict[str, str], engine: Any, sandbox: Any) -> list[Poll]:
    """Open a round to everyone with the bot's own CLI, wait until the bot's sender has
    delivered its DMs, and return the open requests with their delivered messages."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from bot.models import OutboxMessage, Person, PollRequest

    cli_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "poll", "send-now", "--sample", "1"],
                          cwd=env.get("PYTHONPATH", ROOT), env={**cli_env, **env},
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"peerpulse poll send-now failed: {done.stderr or done.stdout}")

    def delivered() -> bool:
        with Session(engine) as s:
            return not s.scalar(select(func.count(OutboxMessage.id)).where(
                OutboxMessage.idempotency_key.like("poll:%"), OutboxMessage.status != "sent"))
    wait(delivered, 120, "the poll round's DMs")
    # Each person just got a DM: the next one to them waits out Slack's one message a second
    # per channel (PEERPULSE_SEND_CHANNEL_INTERVAL). The load starts once that has passed,
    # or its first kudos DMs would all wait for the round's tail.
    time.sleep(1.5)
    with Session(engine) as s:
        requests = {rid: user for rid, user in s.execute(
            select(PollRequest.id, Person.slack_id).join(Person, Person.id == PollRequest.person_id)
            .where(PollRequest.answered_at.is_(None)))}
    by_request: dict[int, tuple[str, dict[str, Any]]] = {}
    for message in sandbox.messages():
        for block in message.get("blocks") or []:
            block_id = str(block.get("block_id") or "")
            if block.get("type") == "actions" and block_id.startswith("poll:"):
                by_request[int(block_id[5:])] = (message["channel"], message)
    return [Poll(rid, user, *by_request[rid]) for rid, user in requests.items()
            if rid in by_request]


@dataclass
class Check:
    tie_keys_expected: int
    lost: int
    doubled: int
    unexpected: int
    events_expected: int
    events_recorded: int
    kudos_pending: int
    lost_keys: list[str] = field(default_factory=list)
    #: Seconds after the check began (the last answer) until the last tie was stored and
    #: the last DM sent: the work done after the acks.
    settled_after: float = 0.0


def check_database(engine: Any, expected: Expected, settle_timeout: float = 60.0,
                   quiet: float = 2.0) -> Check:
    """Wait until the bot has finished what it acknowledged (no kudos pending, no DM
    waiting, the ties unchanged for ``quiet`` seconds), then count the ties."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from bot.models import KudosRequest, OutboxMessage, ProcessedEvent, Tie
    from bot.services.outbox import PENDING, SENDING

    def snapshot() -> tuple[int, int, int]:
        with Session(engine) as s:
            return (int(s.scalar(select(func.count(Tie.id))) or 0),
                    int(s.scalar(select(func.count(KudosRequest.id))) or 0),
                    int(s.scalar(select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.status.in_((PENDING, SENDING)))) or 0))

    began = time.monotonic()
    deadline, last, stable_since = began + settle_timeout, None, began
    while time.monotonic() < deadline:
        now = snapshot()
        if now != last:
            last, stable_since = now, time.monotonic()
        elif now[1] == now[2] == 0 and time.monotonic() - stable_since > quiet:
            break
        time.sleep(0.1)
    with Session(engine) as s:
        keys = Counter(s.scalars(select(Tie.origin_key)))
        event_ids = set(s.scalars(select(ProcessedEvent.event_id)))
        pending = int(s.scalar(select(func.count(KudosRequest.id))) or 0)
    ours = {k: n for k, n in keys.items()
            if k in expected.tie_keys or any(k.startswith(p) for p in expected.refused_keys)}
    return Check(
        tie_keys_expected=len(expected.tie_keys),
        lost=sum(1 for k in expected.tie_keys if k not in keys),
        doubled=sum(n - 1 for n in ours.values() if n > 1),
        unexpected=sum(n for k, n in ours.items() if k not in expected.tie_keys),
        events_expected=len(expected.event_ids),
        events_recorded=len(expected.event_ids & event_ids),
        kudos_pending=pending,
        lost_keys=sorted(k for k in expected.tie_keys if k not in keys)[:5],
        settled_after=max(0.0, stable_since - began))


# ---------------------------------------------------------------- the report


def git_commit(code: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code,
                         capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=code,
                           capture_output=True, text=True).stdout.strip()
    commit = out.stdout.strip() if out.returncode == 0 else ""
    return f"{code} " + (commit or "(not a git checkout)") + (
        " (+ uncommitted changes)" if dirty and commit else "")


def report(results: list[Result], elapsed: float, rate: float, check: Check | None,
           cpu: dict[str, float], wall: float, bot_after: float | None = None) -> bool:
    """Print the figures; ``bot_after``: the bot's CPU seconds until its work after the
    acks was done (``cpu`` holds each party's during the load)."""
    by_kind: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_kind[r.kind].append(r)
    ok_total = True
    print(f"\n{'kind':<15}{'sent':>6}{'2xx':>6}{'err':>5}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'max ms':>9}")
    rows = [(k, by_kind[k]) for k in MIX if by_kind.get(k)] + [("ALL", results)]
    for kind, rs in rows:
        lat = [r.latency * 1000 for r in rs if r.status]
        good = sum(1 for r in rs if 200 <= r.status < 300)
        print(f"{kind:<15}{len(rs):>6}{good:>6}{len(rs) - good:>5}"
              + "".join(f"{percentile(lat, q):>9.0f}" for q in (50, 95, 99, 100)))
    errors = Counter(r.error or f"HTTP {r.status}" for r in results
                     if not 200 <= r.status < 300)
    over = sum(1 for r in results if r.latency > SLACK_DEADLINE)
    late = [r.late * 1000 for r in results]
    print(f"\nthroughput: {len(results)} requests in {elapsed:.1f} s = "
          f"{len(results) / elapsed:.1f}/s (target {rate:g}/s); "
          f"answered 2xx: {sum(1 for r in results if 200 <= r.status < 300)}")
    print(f"errors: {sum(errors.values())} {dict(errors) or ''}; acks over Slack's "
          f"{SLACK_DEADLINE:.0f} s: {over}; generator lateness p99 "
          f"{percentile(late, 99):.1f} ms, max {max(late, default=0):.1f} ms")
    ok_total &= not errors and not over
    shares = ", ".join(f"{name} {seconds / wall:.0%}" for name, seconds in cpu.items())
    # Per request sent: the bot carries out a request whose client gave up waiting too.
    per_request = (f"; the bot used {cpu['bot'] / len(results) * 1000:.1f} ms of CPU a request"
                   if "bot" in cpu and results else "")
    if bot_after is not None and results:
        per_request += (f" ({bot_after / len(results) * 1000:.1f} ms counting its work "
                        "after the load)")
    print(f"CPU during the load (share of one core, over {wall:.1f} s): {shares}{per_request}")
    if check is not None:
        good = not (check.lost or check.doubled or check.unexpected or check.kudos_pending
                    or check.events_recorded != check.events_expected)
        print(f"ties: {check.tie_keys_expected} expected, lost {check.lost}, doubled "
              f"{check.doubled}, unexpected {check.unexpected}; events recorded "
              f"{check.events_recorded}/{check.events_expected} unique; kudos still pending "
              f"{check.kudos_pending}  [{'OK' if good else 'WRONG'}]")
        print(f"work after the acks (ties stored, DMs sent) finished "
              f"{check.settled_after:.1f} s after the last answer")
        if check.lost_keys:
            print(f"       lost, e.g.: {', '.join(check.lost_keys)}")
        ok_total &= good
    return ok_total


# ---------------------------------------------------------------- main


def _mix(value: str) -> dict[str, float]:
    """``kudos=1,event=2``: the kinds to send and their weights (others are left out)."""
    mix: dict[str, float] = {}
    for part in value.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in MIX:
            raise argparse.ArgumentTypeError(f"unknown kind {kind!r}; kinds: {', '.join(MIX)}")
        try:
            mix[kind.strip()] = float(weight or 1)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight of {kind} is not a number") from None
    return mix


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("a whole number, 1 or more")
    return int(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=_positive, help="`peerpulse run --http --workers N` "
                        "(once `run` has the option)")
    parser.add_argument("--replicas", type=_positive, default=1,
                        help="separate bot processes on one database (PostgreSQL only); "
                             "requests go to each in turn")
    parser.add_argument("--people", type=_positive,
                        help="size of the simulated organisation (default: enough for the "
                             "poll answers)")
    parser.add_argument("--mix", type=_mix, help="only these kinds, e.g. `kudos=1` or "
                        f"`event=3,poll_click=1` (default: {', '.join(MIX)} in fixed shares)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument("--url", action="append", help="a running bot (repeat for replicas); "
                        "needs --database-url and --signing-secret")
    parser.add_argument("--database-url", help="with --url: the bot's database, to read the "
                        "people and check the ties; else: the PostgreSQL server to use")
    parser.add_argument("--signing-secret", default=SECRET)
    parser.add_argument("--owner", help="with --url: a programme owner's Slack id (one of the "
                        "bot's PEERPULSE_OWNERS); reaction kudos must be on for the event ties")
    parser.add_argument("--code", type=Path, help="run the bot from another checkout (e.g. "
                        "`git archive` of an older commit) to compare")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (bot logs)")
    args = parser.parse_args(argv)
    if args.url and not args.database_url:
        parser.error("--url needs --database-url (the bot's database, for the checks)")
    if args.replicas > 1 and args.database == "sqlite" and not args.url:
        print("warning: several bot processes on one SQLite file is not a supported "
              "deployment (each runs the schedule); measured here for comparison only")
    if args.workers and not args.url and not run_supports_workers(args.code or ROOT):
        parser.error("`peerpulse run` has no --workers option in this checkout yet")

    from sqlalchemy import text

    from bot import db
    from bot.devkit.botprocess import BotProcess
    from bot.devkit.sandbox import SlackSandbox
    from bot.devkit.simulation import simulate_organisation

    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="peerpulse-load-"))
        if not args.keep:
            stack.callback(lambda: subprocess.run(["rm", "-rf", str(work)], check=False))
        sandbox = stack.enter_context(SlackSandbox(max_page_size=1000))
        bots: list[BotProcess] = []
        if args.url:
            url = args.database_url
            engine = db.make_engine(url)
            from sqlalchemy import select
            from sqlalchemy.orm import Session

            from bot.models import Person

            with Session(engine) as s:
                people = list(s.scalars(select(Person.slack_id).where(
                    Person.is_active, Person.is_deleted.is_(False))))
            owner = args.owner or people[0]
            polls: list[Poll] = []
            targets = [(urlsplit(u).hostname or "127.0.0.1", urlsplit(u).port or 80)
                       for u in args.url]
        else:
            mix = args.mix or MIX
            share = mix.get("poll_click", 0) / sum(mix.values())
            needed = int(args.rate * args.seconds * share * 1.1) + 60
            org = simulate_organisation(n_people=args.people or min(3000, max(120, needed)),
                                        n_teams=12, seed=5)
            sandbox.add_users(org.users)
            people = [p.id for p in org.people if p.id not in org.deleted]
            owner = people[0]
            if args.database == "postgresql":
                url = stack.enter_context(scratch_postgres(
                    args.database_url or postgres_server_url()))
            else:
                url = f"sqlite:///{work / 'bot.db'}"
            env = {"SLACK_BOT_TOKEN": sandbox.token, "SLACK_SIGNING_SECRET": args.signing_secret,
                   "SLACK_API_URL": sandbox.base_url, "DATABASE_URL": url,
                   "PEERPULSE_OWNERS": owner, "PEERPULSE_REACTION_KUDOS": "true",
                   "PEERPULSE_KUDOS_DAILY_CAP": "1000", "PEERPULSE_SEND_PER_MINUTE": "100000",
                   "PEERPULSE_DATA_DIR": str(work / "data")}
            if args.code:
                env["PYTHONPATH"] = str(args.code.resolve())
            extra = ["--workers", str(args.workers)] if args.workers else []
            for n in range(args.replicas):
                bot = BotProcess(env, log_path=work / f"bot{n}.log", cwd=work, args=extra)
                bots.append(bot)
                stack.callback(bot.stop)
                bot.start(timeout=120)  # one after the other: each applies migrations
            engine = db.make_engine(url)
            stack.callback(engine.dispose)
            wait(lambda: people_in_db(engine) >= len(people), 120, "the roster sync")
            polls = open_poll_round(env, engine, sandbox)
            targets = [(bot.host, bot.port) for bot in bots]

        planner = _Planner("http://planner", args.signing_secret, sandbox.team_id,
                           response_urls=sandbox)
        plan, expected = make_plan(args.rate, args.seconds, people, owner, polls, planner,
                                   mix=args.mix)
        cores = os.cpu_count()
        load1 = os.getloadavg()[0]
        print(f"bench/http_load.py, bot code {git_commit(args.code or ROOT)}:\n"
              f"{len(plan)} requests at {args.rate:g}/s for {args.seconds:g} s to "
              f"{len(targets)} bot process(es)"
              f"{f' x {args.workers} workers' if args.workers else ''}")
        dialect = engine.dialect.name
        with engine.connect() as conn:
            version = conn.execute(text("select sqlite_version()" if dialect == "sqlite"
                                        else "show server_version")).scalar()
        print(f"machine: {cores} cores ({platform.processor() or platform.machine()}), "
              f"Python {platform.python_version()}, load average before {load1:.2f}; "
              f"database {dialect} {version}; {len(people)} people, {len(polls)} open polls")

        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        generator = ctx.Process(target=generator_main,
                                args=(plan, targets, args.signing_secret, args.timeout, send))
        bot_pids = [b.proc.pid for b in bots if b.proc is not None]
        meter = CpuMeter()
        all_bot = _descendants(bot_pids)
        pg_pids = _postgres_pids(engine) if dialect == "postgresql" else []
        me = os.times()
        meter.start(all_bot + pg_pids)
        began = time.monotonic()
        generator.start()
        results, elapsed, generator_cpu = receive.recv()
        generator.join()
        wall = time.monotonic() - began
        all_bot = _descendants(bot_pids)
        if dialect == "postgresql":
            pg_pids = _postgres_pids(engine)
        after = os.times()
        cpu = {"bot": meter.used(all_bot)} if bots else {}
        cpu |= {"load generator": generator_cpu,
               "sandbox+bench": (after.user + after.system) - (me.user + me.system)}
        if dialect == "postgresql":
            cpu["postgres (bench db)"] = meter.used(pg_pids)
        ours = sum(cpu.values())
        cpu["rest of the machine"] = max(0.0, _machine_busy() - meter.machine - ours)
        check = check_database(engine, expected)
        bot_after = meter.used(all_bot) if bots else None  # its work after the acks too
        engine.dispose()
        ok = report(results, elapsed, args.rate, check, cpu, wall, bot_after)
        for bot in bots:
            tail = bot.log_tail(400)
            if "Traceback" in tail:
                print(f"note: {bot.log_path} holds tracebacks (kept: --keep to read it)")
        if args.keep:
            print(f"work folder: {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
