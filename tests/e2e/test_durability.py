"""No data lost: the real bot killed with SIGKILL, and Slack failing, slow or answering
garbage, on SQLite and PostgreSQL. Each test counts what was stored and what the sandbox
received: 0 lost, 0 doubled."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import Organisation
from bot.models import KudosRequest, Person, Tie
from tests.e2e.conftest import Stack, wait_for_roster, wait_until

pytestmark = pytest.mark.slow

SLOW_GROUP = "SSLOWCREW"


def active(org: Organisation) -> list[str]:
    return [p.id for p in org.people if p.id not in org.deleted]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill(stack: Stack) -> None:
    """SIGKILL the bot: its gunicorn workers (which do the work: killing only the master
    would let them finish) and the master, with no clean shutdown anywhere."""
    assert stack.bot.proc is not None
    workers = children(stack.bot.proc.pid)
    assert workers, "gunicorn runs the bot in a worker process"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    stack.bot.proc.kill()
    stack.bot.proc.wait()
    for pid in workers:
        wait_until(lambda p=pid: not Path(f"/proc/{p}").exists() or
                   Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
                   timeout=10, what="the worker gone")


def kudos_ties(stack: Stack) -> Counter[tuple[str, str, str]]:
    """(giver, recipient, reason) -> how many ties."""
    src, tgt = aliased(Person), aliased(Person)
    with Session(stack.engine) as s:
        rows = s.execute(select(src.slack_id, tgt.slack_id, Tie.reason)
                         .join(src, Tie.source_id == src.id)
                         .join(tgt, Tie.target_id == tgt.id)
                         .where(Tie.kind == "recognised"))
        return Counter((str(a), str(b), str(r)) for a, b, r in rows)


def recorded_requests(stack: Stack) -> int:
    with Session(stack.engine) as s:
        return int(s.scalar(select(func.count(KudosRequest.id))) or 0)


# ------------------------------------------------------------------ item 8: /kudos and kill -9

def test_every_acknowledged_kudos_is_stored_once_after_a_kill_9(
        sandbox: SlackSandbox, org: Organisation, start_stack: Callable[..., Stack],
        database_url: str) -> None:
    people = active(org)
    crew = people[30:33]
    sandbox.add_usergroup(SLOW_GROUP, crew)
    first = start_stack(database_url, PEERPULSE_KUDOS_DAILY_CAP="100")
    wait_for_roster(first)
    # Slack is slow to expand the group, so each kudos is still being worked on after its
    # acknowledgement when the bot dies.
    sandbox.delay("usergroups.users.list", 3.0)
    givers, recipients = people[:10], people[10:25]
    burst = [(givers[i % 10], recipients[i % 15], f"for the launch, part {i}")
             for i in range(30)]
    acked: dict[int, Any] = {}
    lock = threading.Lock()

    def send(i: int) -> None:
        giver, r, reason = burst[i]
        try:
            resp = first.slack.slash_command(
                "/kudos", f"<@{r}|x> <!subteam^{SLOW_GROUP}|@crew> {reason}", giver)
        except OSError:
            return  # the bot died before acknowledging: Slack shows the giver an error
        if resp.status == 200:
            with lock:
                acked[i] = resp

    with ThreadPoolExecutor(30) as pool:
        for i in range(30):
            pool.submit(send, i)
        # Bolt works on five listeners at a time; the rest of the burst waits (and, after
        # 3 s, is answered as not acknowledged: Slack shows those givers an error).
        wait_until(lambda: len(acked) >= 4, timeout=20, what="kudos acknowledged")
        kill(first)
    assert acked, "some kudos were acknowledged before the kill"
    stored_at_kill = kudos_ties(first)
    unfinished = [i for i in acked if (burst[i][0], burst[i][1], burst[i][2])
                  not in stored_at_kill]
    assert unfinished, "the kill must land between an acknowledgement and the work"

    sandbox.clear_faults()
    second = start_stack(database_url, PEERPULSE_KUDOS_DAILY_CAP="100")

    def all_stored() -> bool:
        ties = kudos_ties(second)
        return all((g, who, reason) in ties for i in acked
                   for g, r, reason in [burst[i]] for who in (r, *crew))
    wait_until(all_stored, timeout=60, what="every acknowledged kudos stored")
    wait_until(lambda: recorded_requests(second) == 0, timeout=30,
               what="every recorded request answered")
    ties = kudos_ties(second)
    assert max(ties.values()) == 1, "nothing was stored twice"
    lost = [i for i in acked if any(ties[(burst[i][0], who, burst[i][2])] != 1
                                    for who in (burst[i][1], *crew))]
    assert lost == []
    # Every giver whose kudos was acknowledged hears what came of it: the usual answer,
    # or a DM after the restart.
    for i in unfinished:
        giver = burst[i][0]
        wait_until(lambda g=giver: any("restarted" in m.get("text", "")
                                       for m in sandbox.messages(g)),
                   timeout=30, what=f"the giver {giver} told after the restart")
    # The kudos DMs of recovered requests go out too, once each.
    wait_until(lambda: all(sandbox.messages(burst[i][1]) for i in unfinished), timeout=30,
               what="kudos DMs after the restart")
    print(f"\nkill -9 during 30 kudos ({database_url.split(':')[0]}): {len(acked)} "
          f"acknowledged, {len(unfinished)} unfinished at the kill, {len(lost)} lost, "
          f"{sum(n - 1 for n in ties.values())} doubled")
