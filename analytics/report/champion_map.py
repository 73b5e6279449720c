"""The champion digest's picture: champion reach by team, aggregates only.

One disc per formal team of at least the minimum group size (area = members, colour = share
reached by champions within two steps), lines for the ties between teams. No person is
drawn or named, and a team too small to report on is left out (counted in the subtitle), so
the picture can go to a channel.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from analytics.report.draw import short_label
from analytics.results import AnalysisResult

__all__ = ["draw_team_reach"]

_REACH = LinearSegmentedColormap.from_list("reach", ["#f4f1ea", "#9fd3a8", "#1b7f3b"])
_UNREACHED = "#c0392b"


def draw_team_reach(result: AnalysisResult, path: str | Path, *, dpi: int = 110) -> int:
    """Draw champion reach by team to a PNG; returns how many teams are drawn.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from analytics.model import AnalysisOptions, Person, Tie
    >>> from analytics.pipeline import analyze
    >>> people = [Person(f"{t}{i}", team=t, champion=(t, i) == ("a", 0))
    ...           for t in "ab" for i in range(5)]
    >>> ties = [Tie(f"a{i}", f"a{i + 1}") for i in range(4)] + [Tie("a4", "b0")]
    >>> result = analyze(ties, people, AnalysisOptions(diffusion_runs=1)).result
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "reach.png"
    >>> draw_team_reach(result, out), out.read_bytes()[:4] == b"\\x89PNG"
    (2, True)
    """
    teams = [t for t in result.teams if not t.suppressed]
    hidden = len(result.teams) - len(teams)
    names = [t.team for t in teams]
    index = {name: i for i, name in enumerate(result.team_matrix.teams)}
    weight: dict[tuple[str, str], int] = {}
    for a in names:
        for b in names:
            if a >= b or a not in index or b not in index:
                continue
            there = result.team_matrix.counts[index[a]][index[b]]
            back = result.team_matrix.counts[index[b]][index[a]]
            total = (there or 0) + (back or 0)
            if total:
                weight[(a, b)] = total

    fig = Figure(figsize=(8, 6.5))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.84))
    ax.set_axis_off()
    if teams:
        layout: nx.Graph = nx.Graph()
        layout.add_nodes_from(names)
        top = max(weight.values(), default=1)
        layout.add_edges_from((a, b, {"w": w / top}) for (a, b), w in weight.items())
        position = nx.spring_layout(layout, weight="w", seed=0,
                                    k=2.0 / math.sqrt(max(len(names), 1)))
        segments = [(position[a], position[b]) for a, b in weight]
        widths = [0.5 + 6.0 * w / top for w in weight.values()]
        ax.add_collection(LineCollection(segments, colors="#8a8a8a", linewidths=widths,
                                         alpha=0.45, zorder=1))
        largest = max(t.size for t in teams)
        for t in teams:
            reach = t.champion_coverage.two_step
            x, y = position[t.team]
            colour = _REACH(reach) if reach is not None else "#dddddd"
            edge = _UNREACHED if reach == 0 else "white"
            ax.scatter([x], [y], s=300 + 4200 * t.size / largest, c=[colour],
                       edgecolors=[edge], linewidths=2.5 if reach == 0 else 1.0, zorder=3)
            share = "nobody reached" if reach == 0 else (
                "reach hidden" if reach is None else f"{reach:.0%} reached")
            ax.annotate(f"{short_label(t.team, 22)}\n{t.size} people\n{share}", (x, y),
                        ha="center", va="center", fontsize=8, zorder=4, parse_math=False,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                              "alpha": 0.75})
        ax.autoscale_view()
        ax.margins(0.15)
    else:
        ax.text(0.5, 0.5, "No team is large enough to show yet", ha="center", va="center")
    people = result.network.people
    subtitle = f"; {hidden} smaller team{'s' if hidden != 1 else ''} not shown" if hidden else ""
    fig.suptitle(f"Champion reach by team ({people} people{subtitle})\n"
                 "disc = team (area = members) · green = share within two steps of a champion"
                 " · red ring = nobody reached · lines = ties between teams", fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return len(teams)
