"""The HTML report: one self-contained page that works offline.

:func:`render_report` turns an analysis into a view model of plain, already formatted
values and hands it to ``templates/report.html.j2`` through one autoescaping jinja2
Environment, so every piece of user text (names, team names, ids) is escaped by the
template engine and never by hand. The picture is embedded as base64 and the adoption
curves are inline SVG: the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from analytics.model import Analysis
from analytics.results import (
    AnalysisResult,
    ChampionPicks,
    Diffusion,
    NetworkFigures,
    PersonResult,
    TeamMatrix,
)

__all__ = ["fmt_number", "fmt_share", "fmt_time", "render_report", "svg_curves"]

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
    "isolate": "Isolates",
    "rising": "Rising",
    "fading": "Fading",
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


def _names(analysis: Analysis) -> dict[str, str]:
    names = {person.id: person.name for person in analysis.result.people}
    for node, name in analysis.graph.nodes(data="name"):
        if not names.get(node) and name:
            names[node] = str(name)
    return names


def _person(names: Mapping[str, str], person_id: Any) -> dict[str, str]:
    pid = str(person_id)
    return {"id": pid, "name": names.get(pid) or pid}


def _png_data(png_path: str | Path | None) -> str | None:
    if png_path is None:
        return None
    data = Path(png_path).read_bytes()
    return base64.b64encode(data).decode("ascii")


def _headline(network: NetworkFigures) -> list[dict[str, str]]:
    coverage = network.champion_coverage
    cards = [
        ("People", fmt_number(network.people), "in the analysis"),
        ("Ties", fmt_number(network.ties), "distinct directed pairs"),
        ("Density", fmt_share(network.density), "of possible ties present"),
        ("Reciprocity", fmt_share(network.reciprocity), "of ties returned"),
        ("Clustering", fmt_number(network.clustering), "average clustering"),
        ("Components", fmt_number(network.components), "weakly connected"),
        ("Largest component", fmt_share(network.largest_component_share), "of people"),
        ("Isolates", fmt_number(network.isolates), "people with no tie"),
        ("Communities", fmt_number(network.communities), "found by Louvain"),
        ("Modularity", fmt_number(network.modularity), "strength of communities"),
        ("E-I index", fmt_number(network.e_i_index), "-1 inward … +1 outward"),
        ("Champions", fmt_number(network.champions), "marked as champions"),
        ("Champion reach, 1 step", fmt_share(coverage.one_step), "of people"),
        ("Champion reach, 2 steps", fmt_share(coverage.two_step), "of people"),
    ]
    return [{"label": a, "value": b, "note": c} for a, b, c in cards]


def _roles(result: AnalysisResult, names: Mapping[str, str]) -> list[dict[str, Any]]:
    rules, assigned = result.role_rules, result.roles
    order = [r for r in _ROLE_TITLES if r in rules or r in assigned]
    order += sorted(r for r in {*rules, *assigned} if r not in _ROLE_TITLES)
    rows = []
    for role in order:
        ids = sorted(assigned.get(role, ()))
        rows.append(
            {
                "role": role,
                "title": _ROLE_TITLES.get(role, role.replace("_", " ").capitalize()),
                "rule": rules.get(role, ""),
                "count": len(ids),
                "people": [_person(names, i) for i in ids[:ROLE_LIST_MAX]],
                "more": max(0, len(ids) - ROLE_LIST_MAX),
            }
        )
    return rows


def _top_people(result: AnalysisResult) -> list[PersonResult]:
    def key(person: PersonResult) -> tuple[float, float, str]:
        return (-(person.in_degree or 0), -(person.pagerank or 0.0), person.id)

    return sorted(result.people, key=key)[:TOP_PEOPLE]


def _matrix(matrix: TeamMatrix) -> dict[str, Any]:
    teams = list(matrix.teams)
    rows = []
    suppressed = False
    for team, row in zip(teams, matrix.counts, strict=False):
        cells = []
        for value in row:
            cells.append(fmt_number(value))
            suppressed = suppressed or value is None
        rows.append({"team": team, "cells": cells})
    return {"teams": teams, "rows": rows, "suppressed": suppressed}


def _recommendation(block: ChampionPicks, names: Mapping[str, str]) -> dict[str, Any]:
    shown = {
        "recommended": block.recommended,
        "current": block.current,
        "top_degree": block.top_degree,
        "random": block.random,
    }
    picks = []
    for key, pick in shown.items():
        picks.append(
            {
                "key": key,
                "title": _PICK_TITLES[key],
                "people": [_person(names, i) for i in pick.ids],
                "one_step": fmt_share(pick.coverage_one_step),
                "two_step": fmt_share(pick.coverage_two_step),
            }
        )
    return {"k": block.k, "picks": picks}


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


def _diff(diff: Mapping[str, Any] | None, names: Mapping[str, str]) -> dict[str, Any] | None:
    if not diff:
        return None
    change = diff.get("coverage_change") or {}

    def pairs(key: str) -> list[list[str]]:
        return [[str(x) for x in pair] for pair in diff.get(key, []) or []]

    return {
        "new_ties": len(diff.get("new_ties", []) or []),
        "lost_ties": len(diff.get("lost_ties", []) or []),
        "rising": [_person(names, i) for i in diff.get("rising", []) or []],
        "fading": [_person(names, i) for i in diff.get("fading", []) or []],
        "one_step": change.get("one_step"),
        "two_step": change.get("two_step"),
        "teams_connected": pairs("teams_connected"),
        "teams_cut_off": pairs("teams_cut_off"),
    }


def _signed_points(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return DASH
    return f"{100.0 * value:+.1f} points"


def render_report(
    analysis: Analysis,
    *,
    png_path: str | Path | None = None,
    diff: Mapping[str, Any] | None = None,
) -> str:
    """Render the self-contained HTML report of one analysis.

    Parameters
    ----------
    analysis : Analysis
        The analysis; the report reads its typed ``result`` and takes names from it and,
        for anyone it does not name, from the graph.
    png_path : str or Path, optional
        The network picture to embed (base64), usually ``network.png``.
    diff : mapping, optional
        A snapshot diff (``diff_snapshots`` output) to show what changed.

    Returns
    -------
    str
        The HTML page. It references no URL: styles inline, picture embedded, charts SVG.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> html = render_report(analyze([Tie("a", "b")], [Person("a", name="<b>Ada</b>"),
    ...                                                Person("b")]))
    >>> "&lt;b&gt;Ada&lt;/b&gt;" in html, "<b>Ada</b>" in html
    (True, False)
    """
    result = analysis.result
    names = _names(analysis)
    network, options = result.network, result.options
    context = {
        "generated_at": fmt_time(result.generated_at),
        "no_champions": network.champions == 0,
        "options": options,
        "kinds": sorted(options.kinds or ()),
        "min_group_size": options.min_group_size,
        "headline": _headline(network),
        "betweenness_method": network.betweenness_method,
        "png": _png_data(png_path),
        "roles": _roles(result, names),
        "top_people": _top_people(result),
        "teams": list(result.teams),
        "matrix": _matrix(result.team_matrix),
        "communities": list(result.communities),
        "recommendation": _recommendation(result.recommendation, names),
        "diffusion": _diffusion(result.diffusion),
        "diff": _diff(diff, names),
        "input": result.input,
        "unknown_ids_max": UNKNOWN_IDS_MAX,
        "signed_points": _signed_points,
    }
    return _environment().get_template("report.html.j2").render(**context)
