"""The holdout and the measured effect, on a simulated organisation where the true effect is
known: simulated champions act on a share of the suggestions they are shown, and ties
between champions and the people suggested also appear by themselves at a known rate."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import binomtest
from sqlalchemy import func, select, update

from bot import db
from bot.app import build_services
from bot.config import load_settings
from bot.devkit.simulation import ChampionBehaviour, simulate_organisation
from bot.models import Person, Suggestion, Workspace
from bot.services import champions
from bot.services.roster import apply_user
from bot.services.ties import NewTie, record_tie
from bot.services.workspace import ensure_workspace

pytestmark = pytest.mark.slow

START = datetime(2026, 9, 7, 10, 0, tzinfo=UTC)  # a Monday
WEEKS = 12
TRUTH = ChampionBehaviour(act=0.5, baseline=0.1)


def test_holdout_split_and_follow_through_match_a_simulation_with_a_known_effect(
        tmp_path: object) -> None:
    org = simulate_organisation(n_people=300, n_teams=10, seed=4)
    settings = load_settings(None, DATABASE_URL=f"sqlite:///{tmp_path}/effect.db",
                             PEERPULSE_WORKING_HOURS="off", PEERPULSE_NUDGE_HOLDOUT="0.2",
                             PEERPULSE_DATA_DIR=f"{tmp_path}/data")
    services = build_services(settings)
    clock = [START]
    services.clock = lambda: clock[0]
    rng = random.Random(9)
    champions_ids = set(org.brokers + org.hyper_connected)
    champions_ids.update(p.id for p in org.people[::12])
    with db.transaction(services.sessions) as s:
        ws = ensure_workspace(s, "T0SANDBOX", "Sandbox")
        ws.created_at = START - timedelta(days=365)
        people = {p.id for p in org.people}
        for user in org.users:
            person = apply_user(s, ws, user)
            if person is not None and user["id"] in people:
                person.team = org.team_of(user["id"])
                person.is_champion = user["id"] in champions_ids
        s.flush()
        s.execute(update(Person).values(created_at=START - timedelta(days=300)))
        for n, (a, b) in enumerate(org.simulate_ties(rounds=6, seed=2)):
            record_tie(s, ws, NewTie(a, b, "helped", "poll", f"base:{n}",
                                     START - timedelta(days=rng.randint(1, 80))))
    services.use_stored_workspace()
    assert len(champions_ids) >= 25

    acted = Counter()
    for week in range(WEEKS):
        clock[0] = START + timedelta(days=7 * week)
        plans = services.call(champions.send_nudges, trigger="cli")
        with db.transaction(services.sessions) as s:
            ws = s.scalars(select(Workspace)).one()
            for plan in plans:
                for arm, items in (("shown", plan.shown), ("withheld", plan.withheld)):
                    for item in items:
                        did, days = TRUTH.outcome(arm == "shown", rng)
                        acted[arm, did] += 1
                        if days is None:
                            continue
                        a, b = ((item.subject, item.other) if item.other
                                else (plan.champion, item.subject))
                        record_tie(s, ws, NewTie(a, b, "helped", "poll",
                                                 f"sim:{week}:{plan.champion}:{item.subject}",
                                                 clock[0] + timedelta(days=days)))
    clock[0] = START + timedelta(days=7 * (WEEKS - 1) + 31)
    report = services.call(champions.measure_effect)
    effect = report.effect

    with services.sessions() as s:
        arms = dict(s.execute(select(Suggestion.arm, func.count()).group_by(Suggestion.arm))
                    .all())
    total = arms["shown"] + arms["withheld"]
    assert total >= 400, f"the simulation made only {total} suggestions"
    # the holdout withholds 20% of suggestions: an exact binomial test cannot reject that
    assert binomtest(arms["withheld"], total, 0.2).pvalue > 0.01
    # every suggestion's window has closed, and both arms are large enough to conclude
    assert effect.open_shown == effect.open_withheld == 0 and effect.enough
    assert effect.shown.total == arms["shown"] and effect.withheld.total == arms["withheld"]
    # the true rates and the true difference lie inside the measured 95% intervals
    truth_gap = TRUTH.shown_rate - TRUTH.baseline
    assert effect.shown.low <= TRUTH.shown_rate <= effect.shown.high
    assert effect.withheld.low <= TRUTH.baseline <= effect.withheld.high
    assert effect.low is not None and effect.high is not None
    assert effect.low <= truth_gap <= effect.high and effect.low > 0
    # and the figures are what the simulation produced, no more, no less
    produced_shown = sum(n for (arm, _), n in acted.items() if arm == "shown")
    assert produced_shown == effect.shown.total
    services.sessions.kw["bind"].dispose()
