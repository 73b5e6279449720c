"""The network picture (``network.png``): readable at a glance, never a hairball.

Up to ``max_nodes_full`` people every person is drawn (communities coloured, champions as
stars, only the most central people labelled); above it the picture switches to a
community-level map, one disc per community, so that 100k people cost one pass over the
edges and a layout of a few dozen nodes.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analytics.model import Analysis

__all__ = [
    "DEFAULT_MAX_NODES_FULL",
    "MAP_COMMUNITIES",
    "community_colour",
    "community_of",
    "draw_network",
    "short_label",
]

#: Above this many people the picture is a community-level map. 300 nodes is about where a
#: 10-inch figure stops showing individual people and their ties legibly.
DEFAULT_MAX_NODES_FULL = 300
#: The community map shows at most this many (largest) communities; the rest are listed
#: in the subtitle, since discs for communities of two people would only add clutter.
MAP_COMMUNITIES = 30
#: Label everyone in networks this small; otherwise only the ``label_top`` most central.
LABEL_ALL_MAX = 30
DEFAULT_LABEL_TOP = 15

# tab20 reordered so the first ten colours are the saturated ones; colour i goes to the
# i-th largest community, and communities past the palette share a neutral grey.
_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#c7c7c7",
]  # fmt: skip
_OTHER = "#d9d9d9"
_CHAMPION_EDGE = "#111111"

Mode = Literal["full", "community_map", "empty"]


def community_colour(index: int | None) -> str:
    """Colour of community ``index`` (0 = largest); None or past the palette is grey.

    Examples
    --------
    >>> community_colour(0), community_colour(None), community_colour(99)
    ('#1f77b4', '#d9d9d9', '#d9d9d9')
    """
    if index is None or not 0 <= index < len(_PALETTE):
        return _OTHER
    return _PALETTE[index]


def short_label(text: str, limit: int = 18) -> str:
    """Shorten a label to ``limit`` characters with an ellipsis.

    Examples
    --------
    >>> short_label("Ada Lovelace")
    'Ada Lovelace'
    >>> short_label("Augusta Ada King, Countess of Lovelace")
    'Augusta Ada King,…'
    >>> short_label("Ada\\nLovelace\\x07")
    'Ada Lovelace'
    """
    # Control characters have no glyph; line breaks would make a label two lines tall.
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def community_of(analysis: Analysis) -> dict[str, int | None]:
    """Community index of every node: from ``result.people``, else the node attribute;
    None for isolates (community -1) and nodes the result does not know.

    Examples
    --------
    >>> from analytics.model import Tie
    >>> from analytics.pipeline import analyze
    >>> analysis = analyze([Tie("a", "b")])
    >>> analysis.graph.add_node("c")  # not in the result, no community attribute
    >>> community_of(analysis)
    {'a': 0, 'b': 0, 'c': None}
    """
    from_result = {person.id: person.community for person in analysis.result.people}
    mapping: dict[str, int | None] = {}
    for node, data in analysis.graph.nodes(data=True):
        value = from_result.get(node, data.get("community"))
        # -1: an isolate, in no community (drawn grey, never a "community -1" disc)
        mapping[node] = int(value) if isinstance(value, int | float) and value >= 0 else None
    return mapping


def _seed(analysis: Analysis, seed: int | None) -> int:
    return analysis.result.options.seed if seed is None else seed


def _new_figure(size: tuple[float, float]) -> tuple[Figure, Any]:
    # A bare Figure with an Agg canvas: no pyplot global state, no GUI backend, thread-safe.
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_axis_off()
    return figure, ax


def draw_network(
    analysis: Analysis,
    path: str | Path,
    *,
    max_nodes_full: int = DEFAULT_MAX_NODES_FULL,
    seed: int | None = None,
    label_top: int = DEFAULT_LABEL_TOP,
    dpi: int = 120,
) -> Mode:
    """Draw the analysed network to a PNG file.

    Parameters
    ----------
    analysis : Analysis
        The analysis; its graph gives people and ties, its result communities, pagerank
        and champions. Only people in the graph are drawn, so opted-out people never are.
    path : str or Path
        Where to write the PNG.
    max_nodes_full : int, default DEFAULT_MAX_NODES_FULL (300)
        Largest network drawn person by person; above it a community-level map is drawn.
    seed : int or None
        Layout seed; None takes ``result.options.seed``. Same seed, same picture.
    label_top : int, default 15
        In networks of more than 30 people, label only this many, by PageRank.
    dpi : int, default 120

    Returns
    -------
    str
        ``"full"``, ``"community_map"`` or ``"empty"``: which picture was drawn.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from analytics.model import Tie
    >>> from analytics.pipeline import analyze
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "network.png"
    >>> draw_network(analyze([Tie("a", "b"), Tie("b", "c")]), out)
    'full'
    >>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    graph = analysis.graph
    seed = _seed(analysis, seed)
    if graph.number_of_nodes() == 0:
        figure, ax = _new_figure((6, 4))
        ax.text(0.5, 0.5, "No people to draw", ha="center", va="center", fontsize=14)
        mode: Mode = "empty"
    elif graph.number_of_nodes() <= max_nodes_full:
        figure, ax = _new_figure((11, 9))
        _draw_full(analysis, ax, seed=seed, label_top=label_top)
        mode = "full"
    else:
        figure, ax = _new_figure((11, 9))
        _draw_community_map(analysis, ax, seed=seed)
        mode = "community_map"
    figure.savefig(path, format="png", dpi=dpi, facecolor="white")
    return mode


def _pagerank(analysis: Analysis) -> dict[str, float]:
    people = analysis.result.people
    ranks = {p.id: float(p.pagerank) for p in people if p.pagerank is not None}
    if len(ranks) < analysis.graph.number_of_nodes():
        # No pipeline metrics (or partial): degree is a fine stand-in for a picture.
        total = max(1, analysis.graph.number_of_edges())
        for node in analysis.graph:
            ranks.setdefault(node, analysis.graph.degree(node) / total)
    return ranks


def _layout(graph: nx.Graph, seed: int) -> dict[Any, np.ndarray]:
    """Spring layout of the connected people; isolates go in rows beneath them.

    Left to the spring layout, isolates drift to the far edges and squeeze everyone else
    into the middle of the picture.
    """
    # Log-damped weights: one very strong pair should not collapse onto a point.
    layout_graph: nx.Graph[str] = nx.Graph()
    for a, b, data in graph.edges(data=True):
        if a == b:
            continue
        weight = 1.0 + math.log1p(float(data.get("weight", 1.0) or 0.0))
        if layout_graph.has_edge(a, b):
            layout_graph[a][b]["w"] += weight
        else:
            layout_graph.add_edge(a, b, w=weight)
    connected = sorted(layout_graph.nodes)
    isolates = sorted(n for n in graph.nodes if n not in layout_graph)
    position: dict[Any, np.ndarray] = {}
    if connected:
        ordered: nx.Graph[str] = nx.Graph()
        ordered.add_nodes_from(connected)  # sorted insertion order keeps the layout stable
        ordered.add_edges_from(sorted(layout_graph.edges(data=True)))
        n = len(connected)
        k = 1.6 / math.sqrt(n) if n > 1 else None
        position = nx.spring_layout(ordered, weight="w", seed=seed, k=k, iterations=100)
    if isolates:
        per_row = max(6, math.ceil(math.sqrt(len(isolates)) * 2))
        bottom = min((float(p[1]) for p in position.values()), default=0.0) - 0.35
        for index, node in enumerate(isolates):
            row, column = divmod(index, per_row)
            x = -1.0 + 2.0 * (column + 0.5) / per_row if len(isolates) > 1 else 0.0
            position[node] = np.array([x, bottom - 0.22 * row])
    return position


def _draw_full(analysis: Analysis, ax: Any, *, seed: int, label_top: int) -> None:
    graph = analysis.graph
    nodes = sorted(graph.nodes)
    position = _layout(graph, seed)
    communities = community_of(analysis)
    ranks = _pagerank(analysis)
    top_rank = max(ranks.values(), default=0.0) or 1.0

    segments = [(position[a], position[b]) for a, b in graph.edges]
    widths = [
        0.4 + 0.5 * math.log1p(float(d.get("weight", 1.0) or 0.0))
        for _, _, d in graph.edges(data=True)
    ]
    ax.add_collection(
        LineCollection(segments, colors="#8a8a8a", linewidths=widths, alpha=0.45, zorder=1)
    )

    def size(node: str) -> float:
        return 40.0 + 700.0 * ranks.get(node, 0.0) / top_rank

    champions = [n for n in nodes if graph.nodes[n].get("champion")]
    others = [n for n in nodes if not graph.nodes[n].get("champion")]
    for group, marker, scale, edge, width in (
        (others, "o", 1.0, "white", 0.8),
        (champions, "*", 2.6, _CHAMPION_EDGE, 1.2),
    ):
        if not group:
            continue
        xy = np.array([position[n] for n in group])
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=[size(n) * scale for n in group],
            c=[community_colour(communities.get(n)) for n in group],
            marker=marker,
            edgecolors=edge,
            linewidths=width,
            zorder=3 if marker == "o" else 4,
        )

    labelled = nodes if len(nodes) <= LABEL_ALL_MAX else _top(nodes, ranks, label_top)
    for node in labelled:
        x, y = position[node]
        name = str(graph.nodes[node].get("name") or node)
        ax.annotate(
            short_label(name),
            (x, y),
            xytext=(0, 7 + math.sqrt(size(node)) / 2),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            zorder=5,
            parse_math=False,  # a "$" in a name must stay a dollar sign
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
    ax.autoscale_view()
    ax.margins(0.08)

    counts = Counter(c for c in communities.values() if c is not None)
    handles = [
        Line2D([], [], marker="o", ls="", color=community_colour(c), markersize=9,
               label=f"community {c} ({_people(counts[c])})")
        for c in sorted(counts)[:8]
    ]  # fmt: skip
    if len(counts) > 8:
        handles.append(
            Line2D([], [], marker="o", ls="", color=_OTHER, markersize=9,
                   label=f"{len(counts) - 8} smaller communities")
        )  # fmt: skip
    if champions:
        handles.append(
            Line2D([], [], marker="*", ls="", color="white", markeredgecolor=_CHAMPION_EDGE,
                   markersize=14, label="champion")
        )  # fmt: skip
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                  fontsize=9)  # fmt: skip
    shown = (
        "everyone labelled" if labelled is nodes else f"top {len(labelled)} by PageRank labelled"
    )
    ax.set_title(
        f"{_people(len(nodes))}, {graph.number_of_edges():,} ties\n"
        f"colour = community · size = PageRank{' · star = champion' if champions else ''}"
        f" · {shown}",
        fontsize=11,
    )


def _people(count: int) -> str:
    return f"{count:,} person" if count == 1 else f"{count:,} people"


def _top(nodes: list[str], ranks: Mapping[str, float], count: int) -> list[str]:
    return sorted(nodes, key=lambda n: (-ranks.get(n, 0.0), n))[:count]


def _draw_community_map(analysis: Analysis, ax: Any, *, seed: int) -> None:
    graph = analysis.graph
    communities = community_of(analysis)
    members = Counter(c for c in communities.values() if c is not None)
    unassigned = sum(1 for c in communities.values() if c is None)
    shown = [c for c, _ in sorted(members.items(), key=lambda kv: (-kv[1], kv[0]))]
    shown = shown[:MAP_COMMUNITIES]
    shown_set = set(shown)
    champions = Counter(communities[n] for n, champion in graph.nodes(data="champion") if champion)

    # One pass over the ties: weight between communities, in either direction.
    between: defaultdict[tuple[int, int], float] = defaultdict(float)
    for a, b, weight in graph.edges(data="weight", default=1.0):
        ca, cb = communities.get(a), communities.get(b)
        if ca is None or cb is None or ca == cb or ca not in shown_set or cb not in shown_set:
            continue
        between[(min(ca, cb), max(ca, cb))] += float(weight or 0.0)

    layout_graph: nx.Graph[int] = nx.Graph()
    layout_graph.add_nodes_from(shown)
    top_weight = max(between.values(), default=1.0)
    for (ca, cb), weight in between.items():
        layout_graph.add_edge(ca, cb, w=weight / top_weight)
    # Faint links carry little and clutter the map: draw those above 5% of the strongest
    # (all of them still shape the layout).
    strong = {pair: w for pair, w in between.items() if w >= 0.05 * top_weight}
    position = nx.spring_layout(
        layout_graph, weight="w", seed=seed, k=2.2 / math.sqrt(max(len(shown), 1))
    )

    segments, widths = [], []
    for (ca, cb), weight in sorted(strong.items()):
        segments.append((position[ca], position[cb]))
        widths.append(0.5 + 7.0 * weight / top_weight)
    ax.add_collection(
        LineCollection(segments, colors="#7a7a7a", linewidths=widths, alpha=0.4, zorder=1)
    )

    largest = max(members.values(), default=1)
    xy = np.array([position[c] for c in shown]) if shown else np.zeros((0, 2))
    sizes = [200.0 + 5000.0 * members[c] / largest for c in shown]
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=sizes,
        c=[community_colour(c) for c in shown],
        edgecolors=[_CHAMPION_EDGE if champions.get(c) else "white" for c in shown],
        linewidths=[2.5 if champions.get(c) else 1.0 for c in shown],
        alpha=0.9,
        zorder=3,
    )
    team_hint = _dominant_teams(analysis)
    for c in shown:
        lines = [f"C{c}: {members[c]:,} people"]
        if team_hint.get(c):
            lines.append(short_label(f"mostly {team_hint[c]}", 24))
        if champions.get(c):
            lines.append(f"{champions[c]} champion{'s' if champions[c] != 1 else ''}")
        ax.annotate(
            "\n".join(lines),
            position[c],
            ha="center",
            va="center",
            fontsize=7.5,
            zorder=4,
            parse_math=False,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.7},
        )
    ax.autoscale_view()
    ax.margins(0.1)
    hidden = len(members) - len(shown)
    rest = sum(members[c] for c in members if c not in shown_set) + unassigned
    subtitle = f" ({hidden:,} smaller communities, {_people(rest)}, not shown)" if hidden else ""
    ax.set_title(
        f"Community map of {_people(graph.number_of_nodes())} and "
        f"{graph.number_of_edges():,} ties{subtitle}\n"
        "one disc per community (area = members) · lines = ties between communities "
        "(width = weight) · dark ring = has champions",
        fontsize=10,
        wrap=True,
    )


def _dominant_teams(analysis: Analysis) -> dict[int, str]:
    """Largest team of each community, only where the result did not suppress the counts."""
    hints: dict[int, str] = {}
    for community in analysis.result.communities:
        if community.teams:
            known = {t: n for t, n in community.teams.items() if t and isinstance(n, int | float)}
            if known:
                hints[community.id] = max(sorted(known), key=lambda t: known[t])
    return hints
