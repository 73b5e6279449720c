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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np

from analytics.labels import analysis_labels
from analytics.layout import layout
from analytics.model import Analysis

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

# matplotlib is imported by the functions that draw (about 0.6 s of start-up): the colour
# helpers, which the report's map uses too, do not need it.

__all__ = [
    "DEFAULT_MAX_NODES_FULL",
    "LEGEND_GROUPS",
    "MAP_COMMUNITIES",
    "Picture",
    "community_colour",
    "community_of",
    "draw_network",
    "group_colours",
    "picture",
    "short_label",
    "split_label",
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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_axis_off()
    return figure, ax


ColourBy = Literal["community", "team"]

#: Colours in the legend: the rest of the groups are drawn in grey and counted together, so
#: every colour in the picture is explained by the legend.
LEGEND_GROUPS = 10
_ISOLATE_FACE = "white"
_ISOLATE_EDGE = "#8a8a8a"


@dataclass
class Picture:
    """A drawn picture and what is on it: the figure, which kind of picture, every label
    placed (text and its box in pixels), the legend (text, colour) and the colours used."""

    figure: Figure
    mode: Mode
    labels: list[tuple[str, Bbox]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    colours: set[str] = field(default_factory=set)
    alt: str = ""


def draw_network(
    analysis: Analysis,
    path: str | Path,
    *,
    max_nodes_full: int = DEFAULT_MAX_NODES_FULL,
    seed: int | None = None,
    label_top: int = DEFAULT_LABEL_TOP,
    dpi: int = 120,
    colour_by: ColourBy = "community",
    positions: Mapping[str, tuple[float, float]] | None = None,
) -> Mode:
    """Draw the analysed network to a PNG file (its alt text in the PNG's Description).

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
        In networks of more than 30 people, label only this many, by PageRank (champions
        are always labelled).
    dpi : int, default 120
    colour_by : "community" or "team"
        Colour people by the community found in the ties, or by formal team.
    positions : mapping, optional
        Person -> (x, y), e.g. from :func:`analytics.layout.layout`; computed when absent.

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
    drawn = picture(analysis, max_nodes_full=max_nodes_full, seed=seed, label_top=label_top,
                    dpi=dpi, colour_by=colour_by, positions=positions)
    drawn.figure.savefig(path, format="png", dpi=dpi, facecolor="white",
                         metadata={"Title": "PeerPulse network picture (confidential)",
                                   "Description": drawn.alt})
    return drawn.mode


def picture(
    analysis: Analysis,
    *,
    max_nodes_full: int = DEFAULT_MAX_NODES_FULL,
    seed: int | None = None,
    label_top: int = DEFAULT_LABEL_TOP,
    dpi: int = 120,
    colour_by: ColourBy = "community",
    positions: Mapping[str, tuple[float, float]] | None = None,
) -> Picture:
    """Draw the picture in memory (:func:`draw_network` saves it); see its parameters."""
    graph = analysis.graph
    seed = _seed(analysis, seed)
    if graph.number_of_nodes() == 0:
        figure, ax = _new_figure((6, 4))
        ax.text(0.5, 0.5, "No people to draw", ha="center", va="center", fontsize=14)
        return Picture(figure, "empty", alt="An empty network picture: no people to draw.")
    if graph.number_of_nodes() <= max_nodes_full:
        return _draw_full(analysis, seed=seed, label_top=label_top, dpi=dpi,
                          colour_by=colour_by, positions=positions)
    figure, ax = _new_figure((11, 9))
    _draw_community_map(analysis, ax, seed=seed)
    members = Counter(c for c in community_of(analysis).values() if c is not None)
    alt = (f"Community map of {_people(graph.number_of_nodes())} and "
           f"{graph.number_of_edges():,} ties: one disc per community "
           f"({len(members):,} communities), lines for the ties between them.")
    return Picture(figure, "community_map", alt=alt)


def _pagerank(analysis: Analysis) -> dict[str, float]:
    people = analysis.result.people
    ranks = {p.id: float(p.pagerank) for p in people if p.pagerank is not None}
    if len(ranks) < analysis.graph.number_of_nodes():
        # No pipeline metrics (or partial): degree is a fine stand-in for a picture.
        total = max(1, analysis.graph.number_of_edges())
        for node in analysis.graph:
            ranks.setdefault(node, analysis.graph.degree(node) / total)
    return ranks


def split_label(label: str) -> tuple[str, str]:
    """``"Ana Silva (Sales, U1)"`` -> ``("Ana Silva", "Sales, U1")``: the picture's two lines.

    Examples
    --------
    >>> split_label("Ana Silva (Sales)"), split_label("Noor")
    (('Ana Silva', 'Sales'), ('Noor', ''))
    """
    if label.endswith(")") and " (" in label:
        name, _, rest = label.rpartition(" (")
        return name, rest[:-1]
    return label, ""


def group_colours(
    analysis: Analysis, colour_by: ColourBy, labels: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Colour of every person and the legend that explains every colour drawn.

    The :data:`LEGEND_GROUPS` largest groups (communities by size, or formal teams by size)
    get their own colour and legend line; everyone else in a group is drawn grey under one
    "smaller ..." line; isolated people are hollow circles under their own line.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> a = analyze([Tie("a", "b")], [Person("a", team="X"), Person("b", team="Y"), Person("c")])
    >>> colours, legend = group_colours(a, "team")
    >>> colours["a"] != colours["b"], [text for text, _ in legend]
    (True, ['X (1 person)', 'Y (1 person)', 'isolated: no tie (1 person)'])
    """
    graph = analysis.graph
    communities = community_of(analysis)
    roles = analysis.result.roles.get("isolate")
    if roles is not None and analysis.result.people:
        isolated = set(roles) & set(graph)
    else:  # a hand-built result: trust the graph (self-ties are no ties)
        isolated = {n for n in graph
                    if all(a == b for a, b in (*graph.in_edges(n), *graph.out_edges(n)))}
    if colour_by == "team":
        group = {n: str(graph.nodes[n].get("team") or "") for n in graph if n not in isolated}
        sizes = Counter(g for g in group.values() if g)
        order = sorted(sizes, key=lambda g: (-sizes[g], g))
        named = {g: f"{g} ({_people(sizes[g])})" for g in order}
        rest_text = "other teams"
        no_group = "no team"
    else:
        group = {n: str(communities[n]) for n in graph
                 if n not in isolated and communities.get(n) is not None}
        sizes = Counter(group.values())
        order = sorted(sizes, key=lambda g: (-sizes[g], int(g)))
        hints = _dominant_teams(analysis)
        named = {g: f"community {int(g) + 1} ({_people(sizes[g])}"
                    f"{', mostly ' + short_label(hints[int(g)], 16) if int(g) in hints else ''})"
                 for g in order}
        rest_text = "smaller communities"
        no_group = "no community"
    coloured = order[:LEGEND_GROUPS]
    colour_of = {g: _PALETTE[i] for i, g in enumerate(coloured)}
    colours: dict[str, str] = {}
    for node in graph:
        if node in isolated:
            colours[node] = _ISOLATE_FACE
        else:
            colours[node] = colour_of.get(group.get(node, ""), _OTHER)
    legend = [(named[g], colour_of[g]) for g in coloured]
    others = [n for n in graph if n not in isolated and group.get(n, "") not in colour_of]
    if others:
        ungrouped = sum(1 for n in others if not group.get(n))
        text = (f"{len(order) - len(coloured)} {rest_text}" if len(order) > len(coloured)
                else no_group)
        if ungrouped and len(order) > len(coloured):
            text += f" or {no_group}"
        legend.append((f"{text} ({_people(len(others))})", _OTHER))
    if isolated:
        legend.append((f"isolated: no tie ({_people(len(isolated))})", _ISOLATE_FACE))
    return colours, legend


def _draw_full(
    analysis: Analysis,
    *,
    seed: int,
    label_top: int,
    dpi: int,
    colour_by: ColourBy,
    positions: Mapping[str, tuple[float, float]] | None,
) -> Picture:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    graph = analysis.graph
    nodes = sorted(graph.nodes, key=str)
    position = dict(positions) if positions is not None else layout(
        graph, {n: c for n, c in community_of(analysis).items() if c is not None}, seed=seed)
    xy = np.array([position[n] for n in nodes], dtype=float)
    span_x = float(np.ptp(xy[:, 0])) or 1.0
    span_y = float(np.ptp(xy[:, 1])) or 1.0
    # The figure takes the layout's shape (no empty band), with room on the right for
    # the legend.
    width = 13.0
    height = float(min(11.0, max(5.5, 8.6 * span_y / span_x + 1.4)))
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.01, 0.01, 0.68, 0.88))
    ax.set_axis_off()
    pad_x, pad_y = 0.06 * span_x, 0.06 * span_y
    ax.set_xlim(float(xy[:, 0].min()) - pad_x, float(xy[:, 0].max()) + pad_x)
    ax.set_ylim(float(xy[:, 1].min()) - pad_y, float(xy[:, 1].max()) + pad_y)

    labels = analysis_labels(analysis)
    colours, legend = group_colours(analysis, colour_by, labels)
    ranks = _pagerank(analysis)
    top_rank = max(ranks.values(), default=0.0) or 1.0

    segments = [(position[a], position[b]) for a, b in graph.edges if a != b]
    widths = [
        0.4 + 0.5 * math.log1p(float(d.get("weight", 1.0) or 0.0))
        for a, b, d in graph.edges(data=True) if a != b
    ]
    ax.add_collection(
        LineCollection(segments, colors="#8a8a8a", linewidths=widths, alpha=0.35, zorder=1)
    )

    def size(node: str) -> float:
        return 40.0 + 700.0 * ranks.get(node, 0.0) / top_rank

    champions = [n for n in nodes if graph.nodes[n].get("champion")]
    others = [n for n in nodes if not graph.nodes[n].get("champion")]
    for group, marker, scale, width_line in ((others, "o", 1.0, 0.8),
                                             (champions, "*", 2.6, 1.2)):
        if not group:
            continue
        points = np.array([position[n] for n in group])
        ax.scatter(
            points[:, 0], points[:, 1],
            s=[size(n) * scale for n in group],
            c=[colours[n] for n in group],
            marker=marker,
            edgecolors=[_CHAMPION_EDGE if marker == "*" else
                        (_ISOLATE_EDGE if colours[n] == _ISOLATE_FACE else "white")
                        for n in group],
            linewidths=width_line,
            zorder=3 if marker == "o" else 4,
        )

    wanted = nodes if len(nodes) <= LABEL_ALL_MAX else _top(nodes, ranks, label_top)
    order = champions + [n for n in sorted(wanted, key=lambda n: (-ranks.get(n, 0.0), n))
                         if n not in set(champions)]
    placed = _place_labels(figure, ax, order, position, labels, set(champions),
                           {n: math.sqrt(size(n) * (2.6 if n in set(champions) else 1.0)) / 2
                            for n in nodes})

    handles = [
        Line2D([], [], marker="o", ls="", markerfacecolor=colour,
               markeredgecolor=_ISOLATE_EDGE if colour == _ISOLATE_FACE else colour,
               markersize=9, label=text)
        for text, colour in legend
    ]
    if champions:
        handles.append(Line2D([], [], marker="*", ls="", color="white",
                              markeredgecolor=_CHAMPION_EDGE, markersize=14,
                              label=f"champion ({_people(len(champions))}), always labelled"))
    figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.70, 0.89),
                  frameon=False, fontsize=8.5, title=f"colour = {colour_by}",
                  title_fontsize=9, alignment="left")
    labelled = len(placed)
    shown = ("everyone labelled" if labelled == len(nodes)
             else f"{labelled} most central people labelled")
    figure.suptitle(
        f"{_people(len(nodes))}, {graph.number_of_edges():,} ties · colour = "
        f"{'formal team' if colour_by == 'team' else 'community found in the ties'} · size = "
        f"PageRank{' · star = champion' if champions else ''} · {shown}",
        fontsize=10.5, x=0.01, ha="left", y=0.985,
    )
    figure.text(0.01, 0.925, "CONFIDENTIAL: named network data", fontsize=8,
                color="#a33", ha="left")
    isolates = sum(1 for n in nodes if colours[n] == _ISOLATE_FACE)
    named_champions = ", ".join(labels.get(n, n) for n in champions[:5])
    alt = (f"Network picture of {_people(len(nodes))} and {graph.number_of_edges():,} ties, "
           f"coloured by {'formal team' if colour_by == 'team' else 'community'}"
           f" ({len([t for t, c in legend if c not in (_OTHER, _ISOLATE_FACE)])} colours "
           "in the legend)"
           + (f"; champions shown as labelled stars: {named_champions}"
              + (f" and {len(champions) - 5} more" if len(champions) > 5 else "")
              if champions else "")
           + (f"; {_people(isolates)} with no tie in a row at the bottom" if isolates else "")
           + f"; {labelled} people labelled by name and team.")
    return Picture(figure, "full", labels=placed, legend=legend,
                   colours={colours[n] for n in nodes}, alt=alt)


# Where a label may go around its node, in points: above, below, right, left, then the
# diagonals, then the same further out (with a thin leader line).
_OFFSETS = [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0),
            (0.8, 0.8), (-0.8, 0.8), (0.8, -0.8), (-0.8, -0.8)]


def _place_labels(
    figure: Figure,
    ax: Any,
    order: list[str],
    position: Mapping[str, tuple[float, float]],
    labels: Mapping[str, str],
    always: set[str],
    radius_pt: Mapping[str, float],
) -> list[tuple[str, Bbox]]:
    """Place labels greedily, in priority order, where they overlap no other label and no
    node; a label that fits nowhere is left out, except a champion's, which goes to its
    farthest spot with a leader line."""
    from matplotlib.text import Text

    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    to_px = ax.transData
    points = np.array([position[n] for n in position], dtype=float)
    centres = to_px.transform(points)
    radii = np.array([radius_pt[n] for n in position]) * figure.dpi / 72.0
    index = {n: i for i, n in enumerate(position)}
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[str, Bbox]] = []
    boxes: list[Bbox] = []
    for node in order:
        name, team = split_label(labels.get(node, node))
        text = short_label(name, 24) + (f"\n{short_label(team, 26)}" if team else "")
        r = radius_pt[node]
        chosen = None
        for distance in (1.0, 2.0, 3.2, 4.6, 6.2):
            for dx, dy in _OFFSETS:
                offset = ((r + 3.0) * distance * dx * (1.6 if dx else 1.0),
                          (r + 3.0) * distance * dy)
                ha = "center" if dx == 0 else ("left" if dx > 0 else "right")
                va = "center" if dy == 0 else ("bottom" if dy > 0 else "top")
                note = ax.annotate(
                    text, position[node], xytext=offset, textcoords="offset points",
                    ha=ha, va=va, fontsize=7.5, zorder=5, parse_math=False,
                    linespacing=1.0,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.85},
                    arrowprops=({"arrowstyle": "-", "color": "#555555", "lw": 0.6}
                                if distance > 1.0 else None),
                )
                # the text's own box: an Annotation's extent would include its leader line
                note.update_positions(renderer)
                box = Text.get_window_extent(note, renderer).expanded(1.04, 1.08)
                inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                          and box.y1 <= frame.y1)
                clear = inside and not any(box.overlaps(other) for other in boxes)
                if clear:
                    nearest_x = np.clip(centres[:, 0], box.x0, box.x1)
                    nearest_y = np.clip(centres[:, 1], box.y0, box.y1)
                    # a label may graze the rim of a disc, never cover most of it
                    hit = (np.hypot(centres[:, 0] - nearest_x, centres[:, 1] - nearest_y)
                           < 0.7 * radii)
                    hit[index[node]] = False
                    clear = not hit.any()
                if clear:
                    chosen = (note, box)
                    break
                note.remove()
            if chosen:
                break
        if chosen is None and node in always:
            note = ax.annotate(
                text, position[node], xytext=(0.0, (r + 3.0) * 3.6), textcoords="offset points",
                ha="center", va="bottom", fontsize=7.5, zorder=6, parse_math=False,  # last resort
                linespacing=1.0,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#999999", "lw": 0.5},
                arrowprops={"arrowstyle": "-", "color": "#555555", "lw": 0.6},
            )
            note.update_positions(renderer)
            chosen = (note, Text.get_window_extent(note, renderer))
        if chosen is not None:
            boxes.append(chosen[1])
            placed.append((text, chosen[1]))
    return placed


def _people(count: int) -> str:
    return f"{count:,} person" if count == 1 else f"{count:,} people"


def _top(nodes: list[str], ranks: Mapping[str, float], count: int) -> list[str]:
    return sorted(nodes, key=lambda n: (-ranks.get(n, 0.0), n))[:count]


def _draw_community_map(analysis: Analysis, ax: Any, *, seed: int) -> None:
    from matplotlib.collections import LineCollection

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
