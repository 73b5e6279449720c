"""Replicas on one PostgreSQL database, killed and cut off (issue 14 item 4).

Several real `peerpulse run --http` processes share a private PostgreSQL cluster (started
for this module on a port of its own, so restarting it never touches the shared test
server) and the local Slack sandbox. Each test kills something mid-work and ends by
counting: ties, poll requests, outbox rows by status, job runs, and what the sandbox
received, per recipient: nothing lost, nothing doubled.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.devkit.botprocess import child_pids, free_port
from bot.devkit.sandbox import SlackSandbox, wait_for
from bot.devkit.simulation import Organisation
from bot.models import JobRun, KudosRequest, OutboxMessage, PollRequest
from tests.e2e.conftest import Stack, launch, wait_for_roster, wait_until
from tests.e2e.test_durability import (
    active,
    kudos_ties,
    open_round,
    outbox,
    poll_dms,
)
from tests.e2e.test_network import seed_ties

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"
# A standby tries for leadership every second (default 5 s). A dead replica's outbox rows
# are taken back by the survivors' next recovery pass, every half lease (20 s here instead
# of the default 2 minutes), or at once by a replica that starts.
FAST = {"PEERPULSE_LEADER_RETRY_SECONDS": "1", "PEERPULSE_SEND_PER_MINUTE": "600",
        "PEERPULSE_SEND_LEASE_SECONDS": "20"}
# Read at import: the suite's autouse fixture clears PEERPULSE_* before each test.
POSTGRES_WANTED = bool(os.environ.get("PEERPULSE_TEST_POSTGRES_URL", "").strip())
# PEERPULSE_FAULTS_LONG=1: also wait (2+ minutes) for the leader to finish what a database
# outage left recorded (test d).
LONG = bool(os.environ.get("PEERPULSE_FAULTS_LONG"))
ELECTED = "now runs the scheduled jobs"
DEPOSED = "stopped running the scheduled jobs"


# ---------------------------------------------------------------------- the private cluster

@dataclass
class Cluster:
    """A PostgreSQL cluster of this module's own (scripts/postgres.sh on another port)."""

    url: str
    env: dict[str, str]

    def restart(self, down: float) -> subprocess.Popen[str]:
        """Stop the server (every connection cut), stay down ``down`` seconds, start it."""
        return subprocess.Popen([str(POSTGRES_SH), "restart", str(down)], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def database(self, name: str) -> str:
        """A fresh, empty database ``name``; returns its URL."""
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not POSTGRES_WANTED:
        pytest.skip("replicas need PostgreSQL: set PEERPULSE_TEST_POSTGRES_URL "
                    "(scripts/postgres.sh prints it)")
    port = free_port()
    env = {**os.environ, "PGPORT_TEST": str(port),
           "PEERPULSE_PG_DIR": f"/tmp/peerpulse-pg-{port}"}
    started = subprocess.run([str(POSTGRES_SH), "start"], env=env, capture_output=True,
                             text=True, timeout=120)
    if started.returncode != 0:
        pytest.fail(f"a private PostgreSQL cluster did not start:\n{started.stderr}")
    try:
        yield Cluster(started.stdout.strip().splitlines()[-1], env)
    finally:
        subprocess.run([str(POSTGRES_SH), "stop"], env=env, capture_output=True, timeout=120)
        Path(f"/tmp/peerpulse-pg-{port}.lock").unlink(missing_ok=True)


@pytest.fixture
def database(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    return cluster.database("faults_" + re.sub(r"\W+", "_", request.node.name)[-40:].lower())


# ---------------------------------------------------------------------- replicas

@pytest.fixture
def replicas(sandbox: SlackSandbox, org: Organisation, tmp_path: Path, database: str
             ) -> Iterator[Callable[..., list[Stack]]]:
    """Call ``start(n, workers=1, **env)`` to start ``n`` replicas at once (one log each,
    ``replica-<i>.log``, one shared data folder, as on a shared volume)."""
    started: list[Stack] = []

    def start(n: int, *, workers: int = 1, **env: str) -> list[Stack]:
        names = [f"replica-{len(started) + i}" for i in range(n)]
        with ThreadPoolExecutor(n) as pool:
            stacks = list(pool.map(lambda name: launch(
                sandbox, org, tmp_path, database, name=name, args=["--workers", str(workers)],
                **{**FAST, **env}), names))
        started.extend(stacks)
        return stacks

    yield start
    with ThreadPoolExecutor(max(1, len(started))) as pool:
        list(pool.map(lambda stack: stack.bot.stop(), started))
    for stack in started:
        stack.engine.dispose()


def processes(stack: Stack) -> set[int]:
    """The replica's gunicorn master and workers."""
    if stack.bot.proc is None:
        return set()
    return {stack.bot.proc.pid, *child_pids(stack.bot.proc.pid)}


def talking_to(port: int, candidates: set[int]) -> set[int]:
    """Of ``candidates``, the processes with a TCP connection open to 127.0.0.1:``port``
    right now (Linux: /proc/net/tcp and each process's file descriptors). The bot opens a
    new connection per Slack call, so this is who is in the middle of one."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:  # ESTABLISHED
            inodes.add(f"socket:[{fields[9]}]")
    found = set()
    for pid in candidates:
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            found.add(pid)
    return found


def log_lines(stack: Stack, marker: str) -> int:
    try:
        return stack.bot.log_path.read_text(errors="replace").count(marker)
    except OSError:
        return 0


def leaders(stacks: list[Stack]) -> list[Stack]:
    """The replicas that lead now, by their logs (elected more often than deposed)."""
    return [s for s in stacks if s.bot.proc is not None
            and log_lines(s, ELECTED) > log_lines(s, DEPOSED)]


def the_leader(stacks: list[Stack], timeout: float = 20) -> Stack:
    found = wait_for(lambda: leaders(stacks), timeout, what="a leader")
    assert len(found) == 1, f"{len(found)} replicas lead at once"
    return found[0]


def leader_names(stack: Stack) -> list[str]:
    """The process names a replica's log says were elected (as `job_runs.runner` has them)."""
    text = stack.bot.log_path.read_text(errors="replace")
    return re.findall(r"leadership: (\S+) " + ELECTED, text)


def outbox_rows(stack: Stack) -> list[OutboxMessage]:
    with Session(stack.engine) as s:
        return list(s.scalars(select(OutboxMessage)))


def job_runs(stack: Stack) -> list[JobRun]:
    with Session(stack.engine) as s:
        return list(s.scalars(select(JobRun)))


def maintenance_by(stack: Stack, runner: str) -> int:
    return sum(1 for r in job_runs(stack) if r.job_id == "poll-maintenance"
               and r.runner == runner)


def roster_syncs(sandbox: SlackSandbox) -> int:
    """Roster syncs Slack saw: first pages of users.list (later pages carry a cursor)."""
    return sum(1 for c in sandbox.calls("users.list") if not c.params.get("cursor"))


# ---------------------------------------------------------------------- a. poll round

def test_a_replica_killed_mid_poll_round_loses_and_doubles_no_poll_dm(
        sandbox: SlackSandbox, org: Organisation, replicas: Callable[..., list[Stack]],
        database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = replicas(3)
    wait_for_roster(stacks[0])
    people = active(org)
    # Slack posts each DM at once but answers a second later, so every replica always
    # has a post in flight: the one killed leaves a DM Slack made and it never recorded.
    sandbox.delay("chat.postMessage", 1.0, after=True)
    open_round(monkeypatch, database)
    wait_until(lambda: sum(poll_dms(sandbox).values()) >= 8, timeout=30,
               what="8 poll DMs delivered")
    # A replica with a post under way (its connection to Slack open) dies.
    victim = wait_for(
        lambda: next((s for s in stacks[1:] if talking_to(sandbox.port, processes(s))), None),
        10, what="a replica mid-post")
    victim.bot.kill()
    at_kill = sum(poll_dms(sandbox).values())
    assert at_kill < len(people), "the kill lands mid-round"
    sandbox.clear_faults()
    wait_until(lambda: outbox(stacks[0]) == {"sent": len(people)}, timeout=60,
               what="every poll DM recorded as sent by the survivors")
    got = poll_dms(sandbox)
    lost = [p for p in people if got[sandbox.dm_channel(p)] == 0]
    doubled = {c: n for c, n in got.items() if n > 1}
    with Session(stacks[0].engine) as s:
        requests = Counter(s.scalars(select(PollRequest.person_id)))
    checked = len(sandbox.calls("conversations.history"))
    print(f"\nkill -9 of 1 of 3 replicas mid-round: {len(people)} asked, {at_kill} DMs "
          f"delivered at the kill, {checked} history checks of uncertain rows, "
          f"{len(lost)} lost, {sum(n - 1 for n in doubled.values())} doubled")
    assert (lost, doubled) == ([], {})
    assert checked >= 1, "the killed replica's unanswered post was checked, not resent"
    assert len(requests) == len(people) and set(requests.values()) == {1}, \
        "one poll request per person, none lost or doubled"


# ---------------------------------------------------------------------- b. snapshot

def test_a_replica_killed_mid_snapshot_upload_delivers_each_file_once(
        sandbox: SlackSandbox, org: Organisation, replicas: Callable[..., list[Stack]]
        ) -> None:
    me = org.people[0].id
    stacks = replicas(2, PEERPULSE_OWNERS=me)
    wait_for_roster(stacks[0])
    seed_ties(stacks[0])
    # The file bytes take 3 s to reach Slack: the replica is killed mid-transfer.
    sandbox.delay("upload", 3.0, times=1)
    target = stacks[0]
    resp = target.slack.slash_command("/network", "snapshot", me)
    assert resp.status == 200 and "Working on your network snapshot" in resp.json["text"]
    # Whichever replica's sender took the files (the one asked, or the other's background
    # sender), it is the one with a connection open to Slack while the bytes crawl.
    wait_until(lambda: bool(sandbox.calls("files.getUploadURLExternal")), timeout=60,
               what="the upload begun")
    victim = wait_for(
        lambda: (lambda found: found[0] if len(found) == 1 else None)(
            [s for s in stacks if talking_to(sandbox.port, processes(s))]),
        5, what="the one replica with the upload under way")
    survivor = next(s for s in stacks if s is not victim)
    victim.bot.kill()
    assert sandbox.files(me) == [], "killed before Slack had the files"
    assert outbox(survivor)["sending"] == 1, "the killed replica's upload is left mid-send"
    # The orchestrator replaces the dead replica (compose's restart policy): a sender's
    # start takes back the rows of senders that died at once (test a shows the survivors'
    # own pass, up to a minute later, without a replacement).
    replicas(1, PEERPULSE_OWNERS=me)
    wait_until(lambda: outbox(survivor) == {"sent": len(outbox_rows(survivor))},
               timeout=90, what="the snapshot finished after the replacement started")
    transfers = len(sandbox.calls("upload"))
    files = Counter(f["filename"] for f in sandbox.files(me))
    summaries = [m for m in sandbox.messages(me) if "Network snapshot" in m["text"]]
    who = "the replica asked" if victim is target else "the other replica"
    print(f"\nkill -9 mid-upload of a snapshot ({who} was uploading): {len(files)} "
          f"files, each delivered "
          f"{sorted(set(files.values()))} time(s) ({transfers} file transfers "
          f"begun); {len(summaries)} summary message(s)")
    assert {"network.png", "report.html", "people.csv", "network.gexf"} <= set(files)
    # Killed before Slack completed the upload: the second upload is the only one.
    # (Killed after Slack completed it but before the row was recorded, it would arrive
    # twice: an upload carries no metadata to look for, see bot/services/outbox.py.)
    assert set(files.values()) == {1}
    assert len(summaries) == 1


# ---------------------------------------------------------------------- c. the leader

def test_the_leader_killed_another_takes_over_and_no_job_runs_twice(
        sandbox: SlackSandbox, org: Organisation, replicas: Callable[..., list[Stack]]
        ) -> None:
    # poll-maintenance every 3 s: a recurring job whose slots lie on a grid every replica
    # computes alike, so each slot could be fired by any leader, old or new.
    stacks = replicas(3, workers=2, PEERPULSE_POLL_CHECK_MINUTES="0.05")
    wait_for_roster(stacks[0])
    first = the_leader(stacks)
    first_name = leader_names(first)[-1]
    wait_until(lambda: maintenance_by(stacks[0], first_name) >= 2, timeout=15,
               what="two maintenance slots under the first leader")
    first.bot.kill()
    killed = time.monotonic()
    killed_at = datetime.now(UTC)
    second = the_leader([s for s in stacks if s is not first], timeout=60)
    takeover = time.monotonic() - killed
    second_name = leader_names(second)[-1]
    wait_until(lambda: roster_syncs(sandbox) >= 2, timeout=30,
               what="the new leader's start-up roster sync")
    wait_until(lambda: maintenance_by(stacks[0], second_name) >= 2, timeout=15,
               what="two maintenance slots under the second leader")
    runs = job_runs(stacks[0])
    maintenance = sorted((r.fire_time, r.runner) for r in runs if r.job_id == "poll-maintenance")
    syncs = [r for r in runs if r.job_id.startswith("roster-sync")]
    print(f"\nleader killed (3 replicas x 2 workers, leader retry 1 s): another took over "
          f"in {takeover:.2f} s; {len(runs)} job runs ({len(maintenance)} maintenance "
          f"slots), {roster_syncs(sandbox)} roster syncs seen by Slack")
    assert takeover < 60
    assert leaders(stacks) == [second] and second is not first
    # Only the two leaders ran anything, each slot once, the first before it died and the
    # second after: never both for a slot, never a standby.
    assert {r.runner for r in runs} == {first_name, second_name}
    assert len({t for t, _ in maintenance}) == len(maintenance) >= 4
    assert all(runner == (first_name if t < killed_at else second_name)
               for t, runner in maintenance)
    # Each leadership's start-up roster sync ran once, and Slack saw exactly those syncs.
    assert sorted(r.runner for r in syncs) == sorted([first_name, second_name])
    assert roster_syncs(sandbox) == len(syncs) == 2


# ---------------------------------------------------------------------- d. PostgreSQL restart

def test_a_postgresql_restart_loses_and_doubles_no_kudos(
        sandbox: SlackSandbox, org: Organisation, replicas: Callable[..., list[Stack]],
        cluster: Cluster) -> None:
    stacks = replicas(2)
    wait_for_roster(stacks[0])
    the_leader(stacks)
    people = active(org)
    pids = [s.bot.proc.pid for s in stacks if s.bot.proc is not None]
    Kudos = tuple[str, str, str]  # giver, recipient, reason

    def give(i: int, kudos: Kudos) -> str:
        """A signed /kudos to replica i % 2; the giver's answer, however it came."""
        giver, recipient, reason = kudos
        try:
            resp = stacks[i % len(stacks)].slack.slash_command(
                "/kudos", f"<@{recipient}|x> {reason}", giver)
        except OSError as exc:
            return f"no answer ({type(exc).__name__})"
        if resp.status != 200:
            return f"HTTP {resp.status}"

        def answered() -> str:
            later = sandbox.responses(resp.response_key or "")
            return str(later[-1]["text"]) if later else str((resp.json or {}).get("text") or "")
        return str(wait_for(answered, 30, what=f"an answer to kudos {i}"))

    def kudos(i: int, phase: str) -> Kudos:
        return people[i % 20], people[20 + (i * 7) % 19], f"for the {phase} work, part {i}"

    answers = {kudos(i, "before"): give(i, kudos(i, "before")) for i in range(4)}
    elected, deposed = total(stacks, ELECTED), total(stacks, DEPOSED)
    assert (elected, deposed) == (1, 0)
    restart = cluster.restart(down=3)
    with ThreadPoolExecutor(12) as pool:
        during = {}
        for i in range(4, 16):  # one every 0.4 s, through the shutdown, outage and start
            during[kudos(i, "during")] = pool.submit(give, i, kudos(i, "during"))
            time.sleep(0.4)
        assert restart.wait(60) == 0, restart.communicate()[1]
        answers |= {k: f.result(60) for k, f in during.items()}
    # The same processes serve again, without a restart.
    for stack in stacks:
        wait_until(lambda s=stack: healthy(s), timeout=30, what="healthy after the restart")
    assert [s.bot.proc.pid for s in stacks if s.bot.proc is not None] == pids
    wait_until(lambda: len(leaders(stacks)) == 1, timeout=30,
               what="leadership re-established")
    time.sleep(3)  # three more election rounds: nobody else takes it
    answers |= {kudos(i, "after"): give(i, kudos(i, "after")) for i in range(16, 20)}
    refused = {k: a for k, a in answers.items() if "Kudos sent" not in a}
    # Those told to try again do, with the same words: each counts once.
    retried = {k: give(i, k) for i, k in enumerate(refused)}
    # Every queued kudos DM reaches Slack once. A DM posted as the database went down may
    # stay "sending" in the outbox until the lease (20 s here), when the history check
    # records it without posting it again.
    dm_channels = {sandbox.dm_channel(p) for p in people[20:]}

    def kudos_dms() -> list[OutboxMessage]:
        return [r for r in outbox_rows(stacks[0]) if r.channel in people[20:]]

    def delivered() -> Counter[str]:
        return Counter(((m.get("metadata") or {}).get("event_payload") or {}).get("key", "")
                       for m in sandbox.messages() if m["channel"] in dm_channels)
    try:
        wait_until(lambda: set(delivered()) == {r.idempotency_key for r in kudos_dms()},
                   timeout=60, what="every queued kudos DM delivered")
    except TimeoutError:
        pytest.fail("kudos DMs not delivered: " + repr([
            (r.idempotency_key, r.status, r.claimed_by, r.claimed_at, r.attempts,
             r.last_error) for r in kudos_dms() if r.idempotency_key not in delivered()]))
    ties = kudos_ties(stacks[0])
    left = {(r.giver, *mention_and_reason(r.text)): r.status
            for r in kudos_requests(stacks[0])}
    statuses = Counter(r.status for r in kudos_dms())
    print(f"\nPostgreSQL restart (down 3 s) under 2 replicas: {len(answers)} kudos, "
          f"{len(answers) - len(refused)} confirmed, {len(refused)} refused during the "
          f"outage {sorted(Counter(refused.values()).items())}, retried: "
          f"{Counter('sent' if 'Kudos sent' in a else a for a in retried.values())}; "
          f"leadership: "
          f"{total(stacks, DEPOSED) - deposed} stepped down, "
          f"{total(stacks, ELECTED) - elected} elected since; left recorded: "
          f"{sorted(Counter(left.values()).items())}; outbox {dict(statuses)}")
    assert len(answers) == 20 and all("during" in k[2] for k in refused)
    assert all("Kudos sent" in a or "already recorded" in a for a in retried.values())
    # Every kudos counted exactly once: confirmed at once, or on the retry; nothing else.
    assert set(ties) == set(answers) and set(ties.values()) == {1}
    assert set(delivered().values()) == {1} and sum(delivered().values()) == len(answers), \
        "one kudos DM per kudos, each delivered once"
    assert set(statuses) <= {"sent", "sending"}, statuses
    # A record left behind is a request carried out whose deletion the outage cut off
    # ("done"), or one acknowledged as the database went down and answered "try again"
    # ("pending"): the leader finishes it once it is 2 minutes old, and since the giver
    # retried, the repeat rule stores nothing more. PEERPULSE_FAULTS_LONG=1 waits for that.
    assert all(status == "done" or k in refused for k, status in left.items()), left
    if left and LONG:
        wait_until(lambda: not kudos_requests(stacks[0]), timeout=240,
                   what="the leader finishing what was left recorded")
        assert kudos_ties(stacks[0]) == ties, "finishing them counted nothing twice"
        for giver, _, _ in left:
            wait_until(lambda g=giver: any("restarted" in m.get("text", "")
                                           for m in sandbox.messages(g)),
                       timeout=30, what="the giver told by DM")
    # The leader lost its lock with its connection and stepped down; one process was
    # elected again, once.
    assert (total(stacks, DEPOSED) - deposed, total(stacks, ELECTED) - elected) == (1, 1)
    assert len(leaders(stacks)) == 1


def kudos_requests(stack: Stack) -> list[KudosRequest]:
    with Session(stack.engine) as s:
        return list(s.scalars(select(KudosRequest)))


def mention_and_reason(text: str) -> tuple[str, str]:
    """``"<@U1|x> for the work"`` -> ``("U1", "for the work")``."""
    mention, reason = text.split("> ", 1)
    return mention[2:].split("|")[0], reason


def total(stacks: list[Stack], marker: str) -> int:
    return sum(log_lines(s, marker) for s in stacks)


def healthy(stack: Stack) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{stack.bot.url}/healthz", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False
