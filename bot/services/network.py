"""Programme owners' view of the network: snapshots, champions, comparisons, ego networks,
exports, and everyone's own privacy controls (opt out, opt in, my data, forget me).

Owner-only use cases check the requester first and raise `NotAProgrammeOwner`; the
requester is always the Slack user who sent the (signed) request, never a value inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics import model as am
from analytics.champions import compare_picks
from analytics.diff import diff_snapshots
from analytics.graph import TieColumns, build_graph_arrays
from analytics.jsonready import json_ready
from analytics.model import Analysis, AnalysisOptions
from analytics.people_kinds import rank
from analytics.pipeline import analyze
from analytics.report.outputs import write_outputs
from analytics.results import AnalysisResult, ChampionPicks
from bot.db import compact_after_commit
from bot.errors import NotAProgrammeOwner, PeerPulseError, UnknownPerson
from bot.files import private_dir, private_files
from bot.models import AuditEntry, Person, Tie, Workspace
from bot.services import Services, Unit, erasure
from bot.services.analysis_cache import (
    Cached,
    CacheKey,
    analyses,
    data_state,
    ties_only_added,
)
from bot.services.delivery import file_message, message_key
from bot.services.export import export_csv
from bot.services.outbox import Outgoing
from bot.services.roster import apply_user, set_champion
from bot.services.ties import analysis_inputs, person_by_slack_id

log = logging.getLogger(__name__)

SNAPSHOT_FILES = ("network.png", "report.html", "people.csv", "network.gexf")
MAX_SNAPSHOT_DAYS = 730


class BadRequest(PeerPulseError):
    """A `/network` subcommand with arguments that don't make sense."""


def require_owner(uow: Unit, user_id: str) -> None:
    if not uow.is_owner(user_id):
        raise NotAProgrammeOwner()


def audit(session: Session, workspace: Workspace, actor: str, action: str,
          detail: dict[str, Any]) -> None:
    session.add(AuditEntry(workspace_id=workspace.id, actor=actor, action=action, detail=detail))


#: What an analysis is computed from: the ties as columns and the people (opted-out people
#: and their ties already left out by `analysis_inputs`).
Inputs = tuple[TieColumns, list[am.Person]]


def _read_inputs(u: Unit) -> Inputs:
    ties, people = analysis_inputs(u.session, u.workspace)
    return TieColumns.from_ties(ties), people


def _options(u: Unit, days: int, now: datetime, champions_k: int = 5) -> AnalysisOptions:
    return AnalysisOptions(window_days=float(days), now=now,
                           min_group_size=u.prefs.min_group_size, champions_k=champions_k)


def _analyse(u: Unit, days: int, *, now: datetime | None = None, champions_k: int = 5,
             inputs: Inputs | None = None) -> Analysis:
    ties, people = inputs or _read_inputs(u)
    return analyze(ties, people, _options(u, days, now or u.now, champions_k))


def _analysed(u: Unit, days: int) -> tuple[Analysis, Inputs]:
    """The analysis of the window ending now, with the inputs it read (kept beside it)."""
    inputs = _read_inputs(u)
    return _analyse(u, days, inputs=inputs), inputs


def _cache_key(u: Unit, days: int) -> CacheKey:
    """The cache key of an owner's analysis; reads the data's state, so call it before the
    inputs are read (a key then never claims more than its analysis saw)."""
    url = u.session.get_bind().engine.url.render_as_string(hide_password=True)
    return CacheKey(url, u.workspace.id, data_state(u.session, u.workspace),
                    ("current", int(days), u.prefs.min_group_size))


@dataclass(frozen=True)
class Freshness:
    """How fresh an owner's answer is: ``behind`` ties recorded since ``as_of`` are not in
    it yet (0: up to date); ``key`` and ``days`` say which analysis to refresh."""

    as_of: datetime
    behind: int = 0
    key: CacheKey | None = field(default=None, compare=False, repr=False)
    days: int = 0


def _current(u: Unit, days: int) -> tuple[Cached, Freshness]:
    """The analysis of the window ending now: computed once per state of the ties and the
    people (`bot.services.analysis_cache`), then reused by person, champions and compare;
    when ties were only added since, the cached one (within bounds), and how fresh it is."""
    key = _cache_key(u, days)
    found = analyses.answer(key, u.now, lambda: _analysed(u, days),
                            lambda old: ties_only_added(u.session, u.workspace, old, key.state))
    return found.entry, Freshness(found.as_of, found.behind, key, days)


def refresh_analysis(u: Unit, days: int) -> None:
    """Compute the analysis of the window ending now for the data as it is now (unless it
    is cached already): what a background refresh runs."""
    analyses.get(_cache_key(u, days), u.now, lambda: _analysed(u, days))


def ask(services: Services, use_case: Callable[..., dict[str, Any]], *args: Any
        ) -> dict[str, Any]:
    """Answer an owner's question (`ego`, `champions`, `compare`) in one unit of work and,
    when it was answered from an analysis that lacks ties recorded since, compute that
    analysis again in the background, in a unit of work of its own
    (`AnalysisCache.refresh`: one at a time per window), so later questions use it."""
    answer = services.call(use_case, *args)
    fresh = answer.get("freshness")
    if isinstance(fresh, Freshness) and fresh.behind and fresh.key is not None:
        days = fresh.days
        analyses.refresh(fresh.key, lambda: services.call(refresh_analysis, days))
    return answer


def parse_days(text: str | None, default: int) -> int:
    if not text:
        return default
    try:
        days = int(text.strip().rstrip("d"))
    except ValueError:
        raise BadRequest(f"'{text}' is not a number of days, e.g. `/network snapshot 30`.") \
            from None
    if not 1 <= days <= MAX_SNAPSHOT_DAYS:
        raise BadRequest(f"Pick a window between 1 and {MAX_SNAPSHOT_DAYS} days.")
    return days


def parse_count(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise BadRequest(f"'{text}' is not a number, e.g. `/network champions 5`.") from None


def headline(result: AnalysisResult) -> dict[str, Any]:
    """The handful of figures every summary shows (and the dashboard's trend keeps).

    A plain dict on purpose: it is stored as JSON in the audit log. People are Slack ids (the
    templates mention them); ``connectors`` are the central connectors ordered by how many
    people named them, ``brokers`` the brokers by betweenness, both ties broken by PageRank,
    then name, then id (``analytics.people_kinds.rank``).
    """
    net, cov = result.network, result.network.champion_coverage
    names = result.names()
    people = {p.id: p for p in result.people}
    pagerank = {p.id: p.pagerank or 0.0 for p in result.people}

    def top(role: str, score: Any) -> list[dict[str, Any]]:
        ids = [i for i in result.roles.get(role, ()) if i in people]
        ordered = rank({i: float(score(people[i])) for i in ids}, names, then=pagerank)[:5]
        return [{"id": i, "score": score(people[i])} for i in ordered]

    answered = sum(1 for p in result.people if p.out_degree > 0)
    return {
        "people": net.people, "ties": net.ties,
        "density": net.density, "reciprocity": net.reciprocity,
        "communities": net.communities, "components": net.components,
        "modularity": net.modularity,
        "e_i_index": net.e_i_index, "isolates": net.isolates,
        "cross_team_share": None if net.e_i_index is None else (net.e_i_index + 1) / 2,
        "participation": answered / net.people if net.people else None,
        "champions": net.champions,
        "coverage_one_step": cov.one_step, "coverage_two_step": cov.two_step,
        "connectors": top("central_connector", lambda p: p.in_degree),
        "brokers": top("broker", lambda p: round(p.betweenness or 0.0, 4)),
    }


@dataclass
class Snapshot:
    days: int
    folder: Path
    files: dict[str, Path]
    headline: dict[str, Any]
    taken_at: datetime


def take_snapshot(u: Unit, requester: str, days: int | None = None) -> Snapshot:
    """Analyse the stored ties, write every output file, and audit who asked."""
    require_owner(u, requester)
    window = days or u.prefs.analysis_window_days
    key = _cache_key(u, window)  # before the inputs are read
    analysis, inputs = _analysed(u, window)  # a snapshot is always computed afresh ...
    analyses.put(key, u.now, analysis, inputs)  # ... and answers owners until it changes
    stamp = u.now.strftime("%Y%m%dT%H%M%SZ")
    data = Path(u.settings.data_dir).resolve()
    folder = private_dir(data / "snapshots" / f"{stamp}-{window}d", within=data)
    values = kudos_figures(u, window).values
    files = write_outputs(analysis, folder, kudos_values=values)
    private_files(p for p in folder.rglob("*") if p.is_file())  # trend.json too
    summary = headline(analysis.result)
    audit(u.session, u.workspace, requester, "snapshot",
          {"days": window, "folder": str(folder), "headline": summary})
    return Snapshot(window, folder, files, summary, u.now)


@dataclass(frozen=True)
class Sent:
    """Messages queued for an owner (`Services.deliver_now` posts them)."""

    keys: list[str]


def send_snapshot(u: Unit, requester: str, days: int | None = None) -> Sent:
    """Take a snapshot and queue it for the owner's DM: the summary, then the files."""
    from bot.rendering import render, section
    from bot.services.champions import measure_effect

    snap = take_snapshot(u, requester, days)
    text = render("network_snapshot.j2", days=snap.days, h=snap.headline)
    effect = render("champion_effect.j2", r=measure_effect(u))  # do the nudges work?
    paths = [p for p in snap.files.values() if p.name in SNAPSHOT_FILES]
    paths.sort(key=lambda p: SNAPSHOT_FILES.index(p.name))
    key = message_key("snapshot", requester, snap.folder.name)
    return Sent(u.send([
        Outgoing(key=f"{key}:summary", channel=requester, text=f"{text}\n\n{effect}",
                 blocks=[section(text), section(effect)]),
        file_message(f"{key}:files", requester, paths,
                     f"Confidential: named network data. Snapshot files ({snap.days} days, "
                     f"snapshot {snap.folder.name}): open report.html first."),
    ]))


def export_for_owner(u: Unit, requester: str) -> tuple[Path, Path, int, int]:
    require_owner(u, requester)
    stamp = u.now.strftime("%Y%m%dT%H%M%SZ")
    data = Path(u.settings.data_dir).resolve()
    folder = private_dir(data / "exports" / stamp, within=data)
    result = export_csv(u.session, u.workspace, folder)
    private_files((result.ties_path, result.people_path))
    audit(u.session, u.workspace, requester, "export",
          {"folder": str(folder), "ties": result.ties, "people": result.people})
    return result.ties_path, result.people_path, result.ties, result.people


def send_export(u: Unit, requester: str) -> Sent:
    """Export the stored ties and people and queue the CSV files for the owner's DM."""
    from bot.rendering import render

    ties_path, people_path, ties, people = export_for_owner(u, requester)
    return Sent(u.send([file_message(
        message_key("export", requester, ties_path.parent.name), requester,
        [ties_path, people_path],
        render("network_simple.j2", what="export", ties=ties, people=people))]))


def champions(u: Unit, requester: str, k: int | None) -> dict[str, Any]:
    """Recommended champions vs the current ones, on the current window."""
    require_owner(u, requester)
    k = k or 5
    if not 1 <= k <= 50:
        raise BadRequest("Ask for between 1 and 50 champions, e.g. `/network champions 5`.")
    entry, fresh = _current(u, u.prefs.analysis_window_days)
    analysis = entry.analysis
    picks = analysis.result.recommendation
    if picks.k != k:  # the cached analysis picked the default number: pick k on its graph
        picks = entry.derive(("picks", k), lambda: _picks(analysis, k))
    return {"k": k, "picks": picks, "names": analysis.result.names(),
            "gain": picks.recommended.coverage_two_step - picks.current.coverage_two_step,
            "people": analysis.result.network.people, "freshness": fresh}


def compare(u: Unit, requester: str) -> dict[str, Any]:
    """This window against the one before it.

    The window before needs only its graph (`analytics.diff.diff_snapshots` reads the
    graphs, nothing else): it is built from the cached analysis's own inputs, the way the
    pipeline builds it, without the metrics, communities and picks a whole analysis adds.
    """
    require_owner(u, requester)
    days = u.prefs.analysis_window_days
    current, fresh = _current(u, days)
    diff, names = current.derive("compare", lambda: _compare(u, current, days))
    # Nothing was recorded in the window before: a comparison would report every tie and
    # every team pair as new, so the template says "nothing to compare yet" instead.
    first = not diff["ties"]["before"]
    return {"days": days, "diff": {**diff, "first_run": first}, "names": names,
            "freshness": fresh}


def _before_graph(u: Unit, current: Cached, days: int) -> nx.DiGraph:
    """The graph of the window before the cached one, from the same inputs and options."""
    after = current.analysis
    end = after.result.options.now or u.now
    ties, people = current.inputs if current.inputs is not None else _read_inputs(u)
    graph, _, _ = build_graph_arrays(ties, people, _options(
        u, days, end - timedelta(days=days), after.result.options.champions_k))
    return graph


def _compare(u: Unit, current: Cached, days: int) -> tuple[dict[str, Any], dict[str, str]]:
    after = current.analysis
    before = _before_graph(u, current, days)
    diff = diff_snapshots(before, after, min_group_size=u.prefs.min_group_size)
    # the names a whole analysis would give (PersonResult.label); the current name wins
    names = {str(n): str(d.get("name", "")) or str(n) for n, d in before.nodes(data=True)}
    return diff, names | after.result.names()


def ego(u: Unit, requester: str, person_id: str) -> dict[str, Any]:
    """One person's ego network: who named them, whom they named, their figures and roles."""
    require_owner(u, requester)
    person_by_slack_id(u.session, u.workspace, person_id)
    entry, fresh = _current(u, u.prefs.analysis_window_days)
    G = entry.analysis.graph
    if person_id not in G:
        raise BadRequest(f"<@{person_id}> is not in the analysed network (opted out, "
                         "deactivated, or no ties in the window).")
    people = entry.analysis.result.people
    by_id = entry.derive("people", lambda: {p.id: p for p in people})
    rank = entry.derive("betweenness_rank", lambda: {p.id: i for i, p in enumerate(
        sorted(people, key=lambda p: -(p.betweenness or 0)), start=1)})
    # Only this person's neighbourhood is read: two adjacency lookups on the cached graph.
    return {
        "id": person_id, "metrics": by_id[person_id],
        "named_by": sorted(G.predecessors(person_id)),
        "names": sorted(G.successors(person_id)),
        "betweenness_rank": rank[person_id],
        "people": len(people), "freshness": fresh,
    }


def _picks(analysis: Analysis, k: int) -> ChampionPicks:
    """Champion picks for ``k`` on an analysed graph, as the pipeline makes them."""
    result = analysis.result
    raw = compare_picks(
        analysis.graph, k,
        champions=[p.id for p in result.people if p.champion],
        teams={p.id: p.team for p in result.people},
        communities={p.id: p.community for p in result.people if p.community >= 0},
        seed=result.options.seed, arrays=analysis.arrays,
    )
    return ChampionPicks.from_dict(json_ready(raw))


def change_champion(u: Unit, requester: str, person_id: str, on: bool) -> str:
    require_owner(u, requester)
    person = set_champion(u.session, u.workspace, person_id, on)
    audit(u.session, u.workspace, requester, "champion.add" if on else "champion.remove",
          {"person": person_id})
    return person.label


# Everyone's own data -------------------------------------------------------------------

def _own_record(u: Unit, user_id: str) -> Person:
    """The asker's own row; `NothingHeld` when they were forgotten earlier."""
    try:
        return person_by_slack_id(u.session, u.workspace, user_id)
    except UnknownPerson:
        if erasure.tombstone_of(u.session, u.workspace, user_id) is not None:
            raise erasure.NothingHeld() from None
        raise


def set_opt_out(u: Unit, user_id: str, out: bool) -> None:
    """Opt out, or back in. Someone forgotten who opts in comes back with no history; the
    roster sync (or Slack's profile, read now) fills in who they are."""
    if not out and erasure.restore(u.session, u.workspace, user_id) is not None:
        try:
            user = u.slack.users_info(user=user_id).get("user") or {}
        except (SlackApiError, OSError):
            return  # Slack unreachable now: the next roster sync fills it in
        if user:
            apply_user(u.session, u.workspace, user)
        return
    if out and erasure.tombstone_of(u.session, u.workspace, user_id) is not None:
        return  # forgotten, so out already
    person = person_by_slack_id(u.session, u.workspace, user_id)
    person.opted_out = out


@dataclass
class MyData:
    profile: dict[str, Any]
    given: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    named: list[str] = field(default_factory=list)


def my_data(u: Unit, user_id: str) -> MyData:
    """Everything PeerPulse holds about the asker (who named them stays private)."""
    p = _own_record(u, user_id)
    profile = {k: getattr(p, k) for k in ("real_name", "display_name", "email", "tz", "team",
                                          "manager", "title", "is_champion", "opted_out",
                                          "polls_paused")}
    def by_kind(side: Any) -> dict[str, int]:
        rows = u.session.execute(select(Tie.kind, func.count(Tie.id)).where(side == p.id)
                                 .group_by(Tie.kind))
        return {kind: int(n) for kind, n in rows}

    given, received = by_kind(Tie.source_id), by_kind(Tie.target_id)
    named = list(u.session.scalars(
        select(Person.slack_id).join(Tie, Tie.target_id == Person.id)
        .where(Tie.source_id == p.id).distinct().order_by(Person.slack_id)))
    return MyData(profile, given, received, named)


def forget_me(u: Unit, user_id: str) -> int:
    """Erase every copy of the asker's data, for good, and keep them out from now on
    (`bot.services.erasure`). Returns how many ties were erased."""
    p = _own_record(u, user_id)
    done = erasure.erase_person(u.session, u.workspace, p, Path(u.settings.data_dir).resolve())
    # The audit keeps that an erasure happened, not whose.
    audit(u.session, u.workspace, erasure.ERASED_ACTOR, "privacy.erase",
          {"ties": done.ties, "rows": done.rows, "redacted": done.redacted,
           "folders": done.folders})
    compact_after_commit(u.session, sorted(done.tables))
    log.info("erasure: %s", done.summary())
    return done.ties


# Owner dashboard -----------------------------------------------------------------------

@dataclass
class Dashboard:
    last: dict[str, Any] | None
    trend: list[dict[str, Any]]
    ties_7d: int
    ties_30d: int
    people: int
    kudos: KudosFigures | None = None


@dataclass(frozen=True)
class KudosFigures:
    """Kudos in a window, as aggregates: how many, which values, how many across teams."""

    days: int
    given: int
    values: list[tuple[str, int]]  # most given first, then by name
    cross_team: int  # between two people whose teams are both known and differ
    with_teams: int  # kudos whose giver and receiver both have a team

    @property
    def cross_team_share(self) -> float | None:
        return self.cross_team / self.with_teams if self.with_teams else None


def kudos_figures(u: Unit, days: int = 30, now: datetime | None = None) -> KudosFigures:
    """Kudos given in the last ``days``, people who opted out left out (owners' analytics)."""
    from sqlalchemy.orm import aliased

    src, tgt = aliased(Person), aliased(Person)
    since = (now or u.now) - timedelta(days=days)
    rows = u.session.execute(
        select(Tie.value, src.team, tgt.team)
        .join(src, Tie.source_id == src.id).join(tgt, Tie.target_id == tgt.id)
        .where(Tie.workspace_id == u.workspace.id, Tie.kind == "recognised",
               Tie.occurred_at >= since, src.opted_out.is_(False),
               tgt.opted_out.is_(False))).all()
    counts: dict[str, int] = {}
    for value, _, _ in rows:
        if value:
            counts[value] = counts.get(value, 0) + 1
    with_teams = [(a, b) for _, a, b in rows if a and b]
    return KudosFigures(days, len(rows), sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
                        sum(a != b for a, b in with_teams), len(with_teams))


def dashboard(u: Unit, now: datetime | None = None) -> Dashboard:
    """What an owner's App Home shows, from stored snapshots and cheap counts (no analysis)."""
    now = now or u.now
    rows = list(u.session.scalars(
        select(AuditEntry).where(AuditEntry.workspace_id == u.workspace.id,
                                 AuditEntry.action == "snapshot")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(6)))
    trend = [dict(r.detail.get("headline") or {}, at=r.at, days=r.detail.get("days"),
                  actor=r.actor) for r in rows]

    def ties_since(days: int) -> int:
        return int(u.session.scalar(select(func.count(Tie.id)).where(
            Tie.workspace_id == u.workspace.id,
            Tie.occurred_at >= now - timedelta(days=days))) or 0)

    people = int(u.session.scalar(select(func.count(Person.id)).where(
        Person.workspace_id == u.workspace.id, Person.is_active.is_(True),
        Person.opted_out.is_(False))) or 0)
    return Dashboard(trend[0] if trend else None, trend, ties_since(7), ties_since(30),
                     people, kudos_figures(u, 30, now))


def audit_entries(session: Session, limit: int = 50, action: str | None = None
                  ) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action:
        q = q.where(AuditEntry.action.like(f"{action}%"))
    return list(session.scalars(q))
