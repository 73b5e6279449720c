"""The HTML report: one self-contained page that works offline.

:func:`render_report` turns an analysis into a view model of plain, already formatted
values and hands it to ``templates/report.html.j2`` through one autoescaping jinja2
Environment, so every piece of user text (names, team names, ids) is escaped by the
template engine and never by hand. The page opens with what to do (a plain-language summary
and three to five prioritised actions, each linked to its evidence), then how far to trust
it, the interactive map (Cytoscape.js, vendored in ``static/`` and inlined), the kinds of
people, teams, champions, trends and every figure with its one-line meaning. The picture is
embedded as base64, the charts are inline SVG, the map's data inline JSON: the page loads
nothing from anywhere.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from analytics import champions as champions_mod
from analytics.actions import ACTION_RULES, Action, prioritised_actions
from analytics.labels import LABEL_RULE, analysis_labels
from analytics.layout import layout
from analytics.model import Analysis
from analytics.people_kinds import TIE_BREAK, PeopleKind, people_kinds, rank
from analytics.results import (
    CONFIDENTIAL,
    AnalysisResult,
    ChampionPicks,
    Diffusion,
    NetworkFigures,
    TeamMatrix,
)
from analytics.stability import Stability, response_coverage, top_list_stability
from analytics.trends import TREND_SERIES, TrendPoint, trend_point

__all__ = [
    "CONFIDENTIAL",
    "MEANINGS",
    "fmt_number",
    "fmt_share",
    "fmt_time",
    "map_data",
    "render_report",
    "svg_curves",
]

_STATIC = Path(__file__).with_name("static")
CYTOSCAPE_VERSION = "3.35.0"
#: The interactive map shows at most this many people (the most central by PageRank).
MAP_MAX_PEOPLE = 1500
#: The team x team heat map shows at most this many teams (the largest).
HEAT_MAX_TEAMS = 40
#: How many people a kind of people lists before "and N more".
KIND_LIST_MAX = 12

_TEMPLATES = Path(__file__).with_name("templates")
# How many people a role lists before "and N more"; the full lists are in people.csv.
ROLE_LIST_MAX = 25
TOP_PEOPLE = 15
UNKNOWN_IDS_MAX = 20
DASH = "—"

_ROLE_TITLES = {
    "central_connector": "Central connectors",
    "broker": "Brokers",
    "boundary_spanner": "Boundary spanners",
    "peripheral": "Peripheral people",
    "isolate": "Isolated people",
    "rising": "Rising",
    "fading": "Fading",
}
_ROLE_WORDS = {
    "central_connector": "central connector",
    "broker": "broker",
    "boundary_spanner": "boundary spanner",
    "peripheral": "on the edge",
    "isolate": "isolated",
    "rising": "rising",
    "fading": "fading",
}
# Each role's list is ordered by the score that defines it (higher first, except where
# noted), ties by name then id (analytics.people_kinds.TIE_BREAK).
_ROLE_ORDER = {
    "central_connector": "ordered by people who named them",
    "broker": "ordered by betweenness",
    "boundary_spanner": "ordered by their share of cross-team ties",
    "peripheral": "ordered by fewest ties",
    "isolate": "ordered by name",
}

#: One line for every figure, shown where the figure appears.
MEANINGS = {
    "people": "Everyone in the analysis: active people who have not opted out.",
    "ties": "Distinct pairs where one person named another (one direction each).",
    "participation": "Share of people who named at least one colleague: who answered.",
    "density": "Share of all possible ties that exist; small in any large organisation.",
    "reciprocity": "Share of ties that are returned: A named B and B named A.",
    "clustering": "How often two of a person's contacts are also tied to each other (0–1).",
    "components": "Separate groups among connected people, with no tie between them.",
    "largest_component_share": "Share of people in the largest connected group.",
    "isolates": "People with no tie at all in the window, counted apart from groups.",
    "communities": "Informal groups found in the ties (isolated people are in none).",
    "modularity": "How clearly the network splits into those groups (above 0.3: clearly).",
    "e_i_index": "−1: every tie stays inside teams; +1: every tie crosses teams.",
    "cross_team_share": "Share of ties that connect two different formal teams.",
    "champions": "People marked as champions of the programme.",
    "reach_one": "Share of people a champion knows directly (ties either way).",
    "reach_two": "Share of people within two steps of a champion: a friend of a friend.",
    "in_degree": "Named by: how many different people named this person.",
    "out_degree": "Names: how many different people this person named.",
    "betweenness": "Share of shortest paths between others that pass through this person.",
    "pagerank": "Importance from being named by important people (all add up to 1).",
    "constraint": "Burt's constraint: high when all of one's contacts know each other.",
    "internal_ties": "Ties between two members of the team.",
    "external_ties": "Ties between a member and someone in another team, either way.",
    "response": "Share of the team's members who named anyone.",
}
_PICK_TITLES = {
    "recommended": "Recommended",
    "current": "Current champions",
    "top_degree": "Top in-degree",
    "random": "Random",
}
_MODEL_TITLES = {
    "independent_cascade": "Independent cascade",
    "linear_threshold": "Linear threshold",
}
_SERIES_COLOURS = {"recommended": "#d62728", "current": "#1f77b4"}


def fmt_number(value: Any, digits: int = 3) -> str:
    """Format a figure for people: thousands separators, ``digits`` significant digits.

    None (a suppressed or undefined figure) becomes an em dash.

    Examples
    --------
    >>> fmt_number(12345), fmt_number(0.123456), fmt_number(-0.5), fmt_number(None)
    ('12,345', '0.123', '-0.5', '—')
    >>> fmt_number(True), fmt_number(float("nan"))
    ('yes', '—')
    """
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def fmt_share(value: Any) -> str:
    """Format a share (0..1) as a percentage; None becomes an em dash.

    Examples
    --------
    >>> fmt_share(0.4567), fmt_share(1), fmt_share(None)
    ('45.7%', '100%', '—')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    if not math.isfinite(value):
        return DASH
    percent = 100.0 * value
    return f"{percent:.0f}%" if percent.is_integer() else f"{percent:.1f}%"


def fmt_time(value: Any) -> str:
    """Format an ISO 8601 timestamp to the minute, in UTC; anything else as given.

    Examples
    --------
    >>> fmt_time("2024-03-01T09:30:12.5+00:00"), fmt_time(None), fmt_time("soon")
    ('2024-03-01 09:30 UTC', '', 'soon')
    """
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@cache
def _environment() -> jinja2.Environment:
    # The one Environment: autoescape on for everything it renders (it only renders HTML),
    # undefined names fail loudly so a template typo cannot silently drop a section.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    env.filters["share"] = fmt_share
    return env


def svg_curves(
    series: Mapping[str, Sequence[float]],
    *,
    width: int = 460,
    height: int = 240,
) -> dict[str, Any]:
    """Geometry of a small line chart of adoption curves (share 0..1 per step), for SVG.

    Returns plain numbers and strings; the template draws them. The y axis is fixed to
    0-100% so two charts side by side compare at a glance.

    Examples
    --------
    >>> chart = svg_curves({"current": [0.1, 0.5]}, width=140, height=120)
    >>> chart["series"][0]["points"]
    '40.0,82.0 130.0,50.0'
    >>> [tick["label"] for tick in chart["y_ticks"]]
    ['0%', '25%', '50%', '75%', '100%']
    """
    left, right, top, bottom = 40.0, 10.0, 10.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom
    steps = max((len(v) for v in series.values()), default=1) - 1
    span = max(steps, 1)

    def x(step: int) -> float:
        return round(left + plot_w * step / span, 1)

    def y(share: float) -> float:
        return round(top + plot_h * (1.0 - min(max(share, 0.0), 1.0)), 1)

    lines = []
    for name, values in series.items():
        points = [(x(i), y(float(v))) for i, v in enumerate(values) if v is not None]
        lines.append(
            {
                "name": name,
                "title": _PICK_TITLES.get(name, name),
                "colour": _SERIES_COLOURS.get(name, "#555555"),
                "points": " ".join(f"{px},{py}" for px, py in points),
                "final": values[-1] if values else None,
            }
        )
    every = max(1, math.ceil(steps / 10))
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "series": lines,
        "y_ticks": [{"y": y(s), "label": fmt_share(s)} for s in (0.0, 0.25, 0.5, 0.75, 1.0)],
        "x_ticks": [{"x": x(i), "label": str(i)} for i in range(0, steps + 1, every)],
    }


def _png_data(png_path: str | Path | None) -> str | None:
    if png_path is None:
        return None
    data = Path(png_path).read_bytes()
    return base64.b64encode(data).decode("ascii")


def _static(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``
    survive, so no name can close the script element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _who(labels: Mapping[str, str], person_id: Any) -> dict[str, str]:
    pid = str(person_id)
    return {"id": pid, "name": labels.get(pid) or pid}


def _figures(network: NetworkFigures, participation: float | None) -> list[dict[str, str]]:
    coverage = network.champion_coverage
    e_i = network.e_i_index
    rows = [
        ("People", fmt_number(network.people), "people"),
        ("Ties", fmt_number(network.ties), "ties"),
        ("Participation", fmt_share(participation), "participation"),
        ("Cross-team share", fmt_share(None if e_i is None else (e_i + 1) / 2),
         "cross_team_share"),
        ("Champion reach, 1 step", fmt_share(coverage.one_step), "reach_one"),
        ("Champion reach, 2 steps", fmt_share(coverage.two_step), "reach_two"),
        ("Isolated people", fmt_number(network.isolates), "isolates"),
        ("Communities", fmt_number(network.communities), "communities"),
        ("Separate groups (components)", fmt_number(network.components), "components"),
        ("Largest connected group", fmt_share(network.largest_component_share),
         "largest_component_share"),
        ("Density", fmt_share(network.density), "density"),
        ("Reciprocity", fmt_share(network.reciprocity), "reciprocity"),
        ("Clustering", fmt_number(network.clustering), "clustering"),
        ("Modularity", fmt_number(network.modularity), "modularity"),
        ("E-I index", fmt_number(e_i), "e_i_index"),
        ("Champions", fmt_number(network.champions), "champions"),
    ]
    return [{"label": a, "value": b, "meaning": MEANINGS[c]} for a, b, c in rows]


def _roles(result: AnalysisResult, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    people = {p.id: p for p in result.people}
    scores: dict[str, Callable[[str], float]] = {
        "central_connector": lambda i: float(people[i].in_degree),
        "broker": lambda i: float(people[i].betweenness or 0.0),
        "boundary_spanner": lambda i: float(people[i].cross_team_share or 0.0),
        "peripheral": lambda i: float(people[i].in_degree + people[i].out_degree),
    }
    rules, assigned = result.role_rules, result.roles
    order = [r for r in _ROLE_TITLES if r in rules or r in assigned]
    order += sorted(r for r in {*rules, *assigned} if r not in _ROLE_TITLES)
    rows = []
    for role in order:
        ids = [i for i in assigned.get(role, ()) if i in people]
        score = scores.get(role)
        if score is not None:
            ids = rank({i: score(i) for i in ids}, labels, descending=role != "peripheral")
        else:
            ids = rank(dict.fromkeys(ids, 0.0), labels)
        rows.append(
            {
                "role": role,
                "title": _ROLE_TITLES.get(role, role.replace("_", " ").capitalize()),
                "rule": rules.get(role, ""),
                "order": _ROLE_ORDER.get(role, "ordered by name"),
                "count": len(ids),
                "people": [_who(labels, i) for i in ids[:ROLE_LIST_MAX]],
                "more": max(0, len(ids) - ROLE_LIST_MAX),
            }
        )
    return rows


def _kinds(kinds: list[PeopleKind], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    out = []
    for kind in kinds:
        members = [
            {**_who(labels, m.id),
             "score": fmt_number(m.score) if kind.key != "isolated" else ""}
            for m in kind.members[:KIND_LIST_MAX]
        ]
        out.append({"key": kind.key, "title": kind.title, "use": kind.use, "rule": kind.rule,
                    "score_name": kind.score_name, "count": len(kind.members),
                    "members": members, "more": max(0, len(kind.members) - KIND_LIST_MAX)})
    return out


def _heat(value: float | None) -> str:
    """Background of a heat-map cell: white (0) to deep blue (1)."""
    if value is None:
        return "#ffffff"
    v = min(max(value, 0.0), 1.0) ** 0.6
    r, g, b = (round(255 + (c - 255) * v) for c in (33, 84, 190))
    return f"#{r:02x}{g:02x}{b:02x}"


def _matrix(matrix: TeamMatrix, sizes: Mapping[str, int]) -> dict[str, Any]:
    """The team x team table as a heat map: each cell's colour is its share of the row's
    ties (where that team's people turn), the count is written inside. At most
    :data:`HEAT_MAX_TEAMS` teams (the largest) are shown: a table of hundreds of teams is
    unreadable (metrics.json has every cell)."""
    all_teams = list(matrix.teams)
    keep = sorted(range(len(all_teams)), key=lambda i: (-sizes.get(all_teams[i], 0),
                                                         all_teams[i]))[:HEAT_MAX_TEAMS]
    keep.sort()
    teams = [all_teams[i] for i in keep]
    counts = [[matrix.counts[i][j] for j in keep] for i in keep]
    rows = []
    suppressed = False
    for team, row in zip(teams, counts, strict=False):
        known = [v for v in row if v is not None]
        total = sum(known)
        cells = []
        for other, value in zip(teams, row, strict=False):
            suppressed = suppressed or value is None
            share = (value / total) if value is not None and total else None
            cells.append({
                "text": fmt_number(value), "share": fmt_share(share),
                "colour": _heat(share), "dark": share is not None and share > 0.45,
                "own": other == team,
            })
        own = row[teams.index(team)] if team in teams else None
        rows.append({"team": team, "cells": cells,
                     "inside": fmt_share(own / total if own is not None and total else None)})
    return {"teams": teams, "rows": rows, "suppressed": suppressed,
            "hidden": len(all_teams) - len(teams)}


def _teams(result: AnalysisResult, coverage: Mapping[str, float | None],
           silo_share: float) -> list[dict[str, Any]]:
    rows = []
    for t in result.teams:
        rows.append({
            "team": t.team, "size": t.size, "suppressed": t.suppressed,
            "response": fmt_share(coverage.get(t.team)),
            "e_i": fmt_number(t.e_i_index), "cross": fmt_share(t.cross_team_share),
            "internal": fmt_number(t.internal_ties), "external": fmt_number(t.external_ties),
            "one": fmt_share(t.champion_coverage.one_step),
            "two": fmt_share(t.champion_coverage.two_step),
            "siloed": (not t.suppressed and t.cross_team_share is not None
                       and t.cross_team_share <= silo_share),
        })
    return rows


def _pick_rows(block: ChampionPicks, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    picks = []
    for key in ("current", "recommended", "top_degree", "random"):
        pick = getattr(block, key)
        picks.append({
            "key": key,
            "title": _PICK_TITLES[key],
            "people": [_who(labels, i) for i in pick.ids],
            "one_step": fmt_share(pick.coverage_one_step),
            "two_step": fmt_share(pick.coverage_two_step),
        })
    return picks


def _champions(analysis: Analysis, labels: Mapping[str, str],
               actions: list[Action]) -> dict[str, Any]:
    """Champions compared fairly: every pick has as many people as there are champions
    now; and whom to add to them, with the reach each addition brings."""
    result, graph = analysis.result, analysis.graph
    current = sorted(p.id for p in result.people if p.champion)
    if current and len(current) == result.recommendation.k:
        picks = _pick_rows(result.recommendation, labels)
        size = len(current)
    elif current:
        teams = {p.id: p.team for p in result.people}
        communities = {p.id: p.community for p in result.people if p.community >= 0}
        same_size = ChampionPicks.from_dict(champions_mod.compare_picks(
            graph, len(current), champions=current, teams=teams, communities=communities,
            seed=result.options.seed, arrays=getattr(analysis, "arrays", None)))
        picks = _pick_rows(same_size, labels)
        size = len(current)
    else:
        picks = _pick_rows(result.recommendation, labels)
        picks = [p for p in picks if p["key"] != "current"]
        size = result.recommendation.k
    add = next((a for a in actions if a.key == "add_champions"), None)
    additions = []
    if add is not None:
        for pid, after in zip(add.people, add.figures.get("steps", ()), strict=False):
            additions.append({**_who(labels, pid), "after": fmt_share(after)})
    return {"size": size, "picks": picks, "current": len(current),
            "additions": additions,
            "before": fmt_share(add.figures["before"]) if add is not None else None}


def _diffusion(block: Diffusion) -> dict[str, Any]:
    charts = []
    for model, series in block.models.items():
        ordered = {k: series[k] for k in ("current", "recommended") if series.get(k)}
        ordered |= {k: v for k, v in series.items() if k not in ordered and v}
        if ordered:
            charts.append(
                {"model": model, "title": _MODEL_TITLES.get(model, model), **svg_curves(ordered)}
            )
    return {"steps": block.steps, "runs": block.runs, "charts": charts}


def _diff(diff: Mapping[str, Any] | None, labels: Mapping[str, str]) -> dict[str, Any] | None:
    if not diff:
        return None
    change = diff.get("coverage_change") or {}

    def pairs(key: str) -> list[list[str]]:
        return [[str(x) for x in pair] for pair in diff.get(key, []) or []]

    before = (diff.get("ties") or {}).get("before")
    return {
        # no tie in the earlier window: every tie and team pair would look new
        "first_run": before == 0,
        "new_ties": len(diff.get("new_ties", []) or []),
        "lost_ties": len(diff.get("lost_ties", []) or []),
        "rising": [_who(labels, i) for i in diff.get("rising", []) or []],
        "fading": [_who(labels, i) for i in diff.get("fading", []) or []],
        "one_step": change.get("one_step"),
        "two_step": change.get("two_step"),
        "teams_connected": pairs("teams_connected"),
        "teams_cut_off": pairs("teams_cut_off"),
    }


def _signed_points(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return DASH
    return f"{100.0 * value:+.1f} points"


def _kudos_values(values: Sequence[tuple[str, int]] | None) -> list[dict[str, Any]] | None:
    """Kudos values as bars, most given first (ties by name); None: not known."""
    if values is None:
        return None
    rows = sorted(((str(v), int(n)) for v, n in values if n > 0), key=lambda r: (-r[1], r[0]))
    top = max((n for _, n in rows), default=0)
    return [{"value": v, "count": fmt_number(n), "width": round(160.0 * n / top, 1)}
            for v, n in rows]


def _trends(points: Sequence[TrendPoint]) -> dict[str, Any]:
    """One small SVG line chart per trend series, oldest snapshot first."""
    points = sorted(points, key=lambda p: p.at)
    charts = []
    width, height, left, right, top, bottom = 300, 150, 44.0, 10.0, 14.0, 26.0
    plot_w, plot_h = width - left - right, height - top - bottom
    for key, (title, kind) in TREND_SERIES.items():
        values = [getattr(p, key) for p in points]
        known = [(i, float(v)) for i, v in enumerate(values) if v is not None]
        if not known:
            continue
        if kind == "share":
            low, high = 0.0, 1.0
        else:
            low, high = 0.0, max(v for _, v in known) * 1.1 or 1.0
        span = max(len(points) - 1, 1)

        def x(i: int, span: int = span) -> float:
            return round(left + plot_w * i / span, 1) if len(points) > 1 else left + plot_w / 2

        def y(v: float, low: float = low, high: float = high) -> float:
            return round(top + plot_h * (1.0 - (v - low) / ((high - low) or 1.0)), 1)

        fmt = fmt_share if kind == "share" else fmt_number
        charts.append({
            "key": key, "title": title, "width": width, "height": height,
            "left": left, "right": width - right, "top": top, "bottom": height - bottom,
            "points": " ".join(f"{x(i)},{y(v)}" for i, v in known),
            "dots": [{"x": x(i), "y": y(v), "label": fmt(v)} for i, v in known],
            "y_ticks": [{"y": y(v), "label": fmt(v)} for v in (low, (low + high) / 2, high)],
            "first": fmt_time(points[known[0][0]].at)[:10],
            "last": fmt_time(points[known[-1][0]].at)[:10],
            "latest": fmt(known[-1][1]),
        })
    return {"count": len(points), "charts": charts}


def map_data(
    analysis: Analysis,
    labels: Mapping[str, str],
    positions: Mapping[str, tuple[float, float]],
    kinds: list[PeopleKind],
    *,
    max_people: int = MAP_MAX_PEOPLE,
) -> dict[str, Any]:
    """The interactive map's data: people (label, team, community, roles, kinds, figures,
    position, both colours) and ties, at most ``max_people`` (the most central)."""
    from analytics.report.draw import group_colours

    result, graph = analysis.result, analysis.graph
    people = {p.id: p for p in result.people}
    chosen = list(graph.nodes)
    if len(chosen) > max_people:
        pr = {p.id: p.pagerank or 0.0 for p in result.people}
        chosen = sorted(chosen, key=lambda n: (-pr.get(n, 0.0), str(n)))[:max_people]
    keep = set(chosen)
    by_community, community_legend = group_colours(analysis, "community", labels)
    by_team, team_legend = group_colours(analysis, "team", labels)
    kinds_of: dict[str, list[str]] = {}
    for kind in kinds:
        for member in kind.members:
            kinds_of.setdefault(member.id, []).append(kind.title)
    xs = [positions[n][0] for n in chosen if n in positions] or [0.0]
    ys = [positions[n][1] for n in chosen if n in positions] or [0.0]
    scale = 900.0 / max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    nodes: list[dict[str, Any]] = []
    for node in sorted(chosen, key=str):
        p = people.get(node)
        x, y = positions.get(node, (0.0, 0.0))
        nodes.append({
            "id": str(node), "label": labels.get(node, str(node)),
            "team": str(graph.nodes[node].get("team") or ""),
            "community": p.community if p is not None else -1,
            "roles": [_ROLE_WORDS.get(r, r) for r in (p.roles if p is not None else ())],
            "kinds": kinds_of.get(node, []),
            "champion": bool(graph.nodes[node].get("champion")),
            "in": p.in_degree if p is not None else 0,
            "out": p.out_degree if p is not None else 0,
            "x": round((x - min(xs)) * scale, 1), "y": round((max(ys) - y) * scale, 1),
            "cc": by_community.get(node, "#d9d9d9"), "ct": by_team.get(node, "#d9d9d9"),
        })
    edges = [[str(a), str(b)] for a, b in graph.edges if a != b and a in keep and b in keep]
    return {
        "nodes": nodes, "edges": edges, "total": graph.number_of_nodes(),
        "teams": sorted({n["team"] for n in nodes if n["team"]}),
        "roles": [_ROLE_WORDS[r] for r in _ROLE_TITLES if r in _ROLE_WORDS and
                  any(_ROLE_WORDS[r] in n["roles"] for n in nodes)],
        "kinds": [k.title for k in kinds if any(k.title in n["kinds"] for n in nodes)],
        "legend": {"community": community_legend, "team": team_legend},
    }


def _summary(analysis: Analysis, participation: float | None, stability: Stability,
             siloed: list[str]) -> list[str]:
    """The plain-language summary: four short sentences an HR lead can repeat."""
    network = analysis.result.network
    sentences = []
    answered = stability.respondents
    sentences.append(
        f"{network.people:,} people are in this picture; {answered:,} of them "
        f"({fmt_share(participation)}) named at least one colleague, and together they "
        f"name {network.ties:,} working relationships.")
    e_i = network.e_i_index
    if e_i is not None:
        cross = (e_i + 1) / 2
        silo = (f"; {len(siloed)} team{'s' if len(siloed) != 1 else ''} "
                f"({', '.join(siloed[:3])}{'…' if len(siloed) > 3 else ''}) "
                "barely connect{} to the rest".format("s" if len(siloed) == 1 else "")
                if siloed else "")
        if cross >= 0.5:
            sentences.append(f"{fmt_share(cross)} of ties cross formal team lines: the "
                             f"informal network links the teams{silo}.")
        else:
            sentences.append(f"Only {fmt_share(cross)} of ties cross formal team lines: most "
                             f"stay inside teams{silo}.")
    two = network.champion_coverage.two_step
    if network.champions and two is not None:
        sentences.append(f"The {network.champions} champions reach {fmt_share(two)} of people "
                         "within two steps (a colleague of a colleague).")
    elif not network.champions:
        sentences.append("No champions are marked yet.")
    if network.isolates:
        sentences.append(f"{network.isolates:,} "
                         f"{'person has' if network.isolates == 1 else 'people have'} no tie "
                         "at all in this window.")
    sentences.append(stability.verdict_text)
    return sentences


def _action_view(action: Action, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"key": action.key, "evidence": action.evidence, "rule": ACTION_RULES[action.key],
            "people": [_who(labels, p) for p in action.people[:6]],
            "more": max(0, len(action.people) - 6), "teams": list(action.teams),
            "figures": action.figures}


def render_report(
    analysis: Analysis,
    *,
    png_path: str | Path | None = None,
    diff: Mapping[str, Any] | None = None,
    positions: Mapping[str, tuple[float, float]] | None = None,
    history: Sequence[TrendPoint] = (),
    kudos_values: Sequence[tuple[str, int]] | None = None,
    before_png: Callable[[], object] | None = None,
) -> str:
    """Render the self-contained HTML report of one analysis.

    Parameters
    ----------
    analysis : Analysis
        The analysis; people are shown by :func:`analytics.labels.analysis_labels`.
    png_path : str or Path, optional
        The network picture to embed (base64), usually ``network.png``.
    diff : mapping, optional
        A snapshot diff (``diff_snapshots`` output) to show what changed.
    positions : mapping, optional
        Person -> (x, y) for the interactive map (:func:`analytics.layout.layout` when
        absent), so the map matches the picture and the GEXF file.
    history : sequence of TrendPoint, optional
        Earlier snapshots' trend points (same window length); this one is added.
    kudos_values : sequence of (value, count), optional
        Kudos values given in the window (most given first); None when not known (a
        ``ties.csv`` has no values), which leaves the list out.
    before_png : callable, optional
        Called (and waited for) just before ``png_path`` is read: the picture may still be
        being drawn by another process while the rest of the page is prepared.

    Returns
    -------
    str
        The HTML page. It references no URL: styles and scripts inline, picture embedded,
        charts SVG, the map's data inline JSON.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> html = render_report(analyze([Tie("a", "b")], [Person("a", name="<b>Ada</b>"),
    ...                                                Person("b")]))
    >>> "&lt;b&gt;Ada&lt;/b&gt;" in html, "<b>Ada</b>" in html
    (True, False)
    """
    from analytics.actions import SILO_SHARE

    result, graph = analysis.result, analysis.graph
    network, options = result.network, result.options
    labels = analysis_labels(analysis)
    teams = {p.id: p.team for p in result.people}
    arrays = getattr(analysis, "arrays", None)
    stability = top_list_stability(graph, seed=options.seed, arrays=arrays)
    coverage = response_coverage(graph, teams, options.min_group_size)
    participation = stability.participation
    kinds = people_kinds(analysis, labels)
    actions = prioritised_actions(graph, result, stability, arrays=arrays)
    if positions is None:
        positions = layout(graph, {p.id: p.community for p in result.people
                                   if p.community >= 0}, seed=options.seed, arrays=arrays)
    point = trend_point(result, graph)
    same_window = [p for p in history if p.window_days == point.window_days and p.at != point.at]
    team_rows = _teams(result, coverage, SILO_SHARE)
    siloed = [t["team"] for t in team_rows if t["siloed"]]
    the_map = map_data(analysis, labels, positions, kinds)
    context = {
        "confidential": CONFIDENTIAL,
        "generated_at": fmt_time(result.generated_at),
        "no_champions": network.champions == 0,
        "options": options,
        "kinds": sorted(options.kinds or ()),
        "min_group_size": options.min_group_size,
        "summary": _summary(analysis, participation, stability, siloed),
        "actions": [_action_view(a, labels) for a in actions],
        "figures": _figures(network, participation),
        "meanings": MEANINGS,
        "label_rule": LABEL_RULE,
        "tie_break": TIE_BREAK,
        "stability": stability,
        "stable_top": _stable_top(result, stability, labels),
        "betweenness_method": network.betweenness_method,
        "alt": _alt_text(analysis, labels),
        "people_kinds": _kinds(kinds, labels),
        "roles": _roles(result, labels),
        "teams": team_rows,
        "silo_share": SILO_SHARE,
        "matrix": _matrix(result.team_matrix, {t.team: t.size for t in result.teams}),
        "communities": list(result.communities),
        "champions": _champions(analysis, labels, actions),
        "diffusion": _diffusion(result.diffusion),
        "diff": _diff(diff, labels),
        "trends": _trends([*same_window, point]),
        "kudos_values": _kudos_values(kudos_values),
        "input": result.input,
        "unknown_ids_max": UNKNOWN_IDS_MAX,
        "signed_points": _signed_points,
        "map_json": _script_json(the_map),
        "map_total": the_map["total"],
        "map_count": len(the_map["nodes"]),
        "cytoscape": _static("cytoscape.min.js").replace("</script", "<\\/script"),
        "cytoscape_version": CYTOSCAPE_VERSION,
    }
    if before_png is not None:
        before_png()
    context["png"] = _png_data(png_path)
    return _environment().get_template("report.html.j2").render(**context)


def _stable_top(result: AnalysisResult, stability: Stability,
                labels: Mapping[str, str]) -> list[dict[str, str]]:
    """The trust table's "most named" people: by people who named them, then name, id."""
    kept = dict(stability.kept)
    named = {p.id: float(p.in_degree) for p in result.people if p.id in kept}
    return [{**_who(labels, pid), "named_by": fmt_number(int(named[pid])),
             "kept": fmt_share(kept[pid])} for pid in rank(named, labels)]


def _alt_text(analysis: Analysis, labels: Mapping[str, str]) -> str:
    network = analysis.result.network
    champions = [labels.get(p.id, p.id) for p in analysis.result.people if p.champion]
    text = (f"Network picture of {network.people:,} people and {network.ties:,} ties in "
            f"{network.communities:,} communities, coloured by community")
    if champions:
        text += f"; champions as labelled stars: {', '.join(champions[:5])}"
        if len(champions) > 5:
            text += f" and {len(champions) - 5} more"
    if network.isolates:
        text += f"; {network.isolates:,} isolated people in the bottom row"
    return text + ". The interactive map above shows the same network."
