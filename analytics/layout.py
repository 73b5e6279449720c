"""Where each person sits in the pictures: one layout for the PNG, the interactive map and
the GEXF file, so they all look alike.

Up to :data:`FULL_LAYOUT_MAX` people, a seeded spring layout of the connected people with the
isolated people in a compact strip just below them. Beyond it, a spring layout of the
communities, each person placed on a sunflower spiral around their community's centre: one
pass over the people, so 100k people cost well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import networkx as nx
import numpy as np

from analytics._arrays import GraphArrays, graph_arrays

__all__ = ["FULL_LAYOUT_MAX", "layout"]

FULL_LAYOUT_MAX = 500
_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))


def _fruchterman_reingold(
    A: np.ndarray, seed: int, *, k: float, iterations: int
) -> np.ndarray:
    """Fruchterman & Reingold's force-directed layout on a dense weighted adjacency.

    The same algorithm as networkx's dense spring layout (which networkx only uses below 500
    nodes, switching to a sparse version that takes 12 s for 1,000 people); dense numpy keeps
    500 people near a second.
    """
    n = A.shape[0]
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 2))
    if n == 1:
        return pos
    t = max(float(np.ptp(pos[:, 0])), float(np.ptp(pos[:, 1]))) * 0.1
    dt = t / (iterations + 1)
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        distance = np.sqrt((delta ** 2).sum(axis=-1))
        np.clip(distance, 0.01, None, out=distance)
        force = k * k / distance ** 2 - A * distance / k
        displacement = np.einsum("ijk,ij->ik", delta, force)
        length = np.sqrt((displacement ** 2).sum(axis=1))
        length = np.where(length < 0.01, 0.1, length)
        pos += displacement * (t / length)[:, None]
        t -= dt
    return pos


def _spring(graph: nx.DiGraph, seed: int) -> dict[str, tuple[float, float]]:
    # Log-damped weights: one very strong pair should not collapse onto a point.
    undirected: nx.Graph[str] = nx.Graph()
    for a, b, data in graph.edges(data=True):
        if a == b:
            continue
        weight = 1.0 + math.log1p(max(0.0, float(data.get("weight", 1.0) or 0.0)))
        if undirected.has_edge(a, b):
            undirected[a][b]["w"] += weight
        else:
            undirected.add_edge(a, b, w=weight)
    connected = sorted(undirected.nodes, key=str)
    isolates = sorted((n for n in graph if n not in undirected), key=str)
    position: dict[str, tuple[float, float]] = {}
    if connected:
        ordered: nx.Graph[str] = nx.Graph()
        ordered.add_nodes_from(connected)  # sorted insertion order keeps the layout stable
        ordered.add_edges_from(sorted(undirected.edges(data=True), key=lambda e: (e[0], e[1])))
        n = len(connected)
        xy = _fruchterman_reingold(nx.to_numpy_array(ordered, weight="w"), seed,
                                   k=1.6 / math.sqrt(n) if n > 1 else 1.0,
                                   iterations=100 if n <= 300 else 60)
        if n > 1:  # scale into [-1, 1] so the isolates' strip has a known place
            xy -= xy.mean(axis=0)
            xy /= max(float(np.abs(xy).max()), 1e-9)
        position = {node: (float(x), float(y)) for node, (x, y) in zip(connected, xy, strict=True)}
    if isolates:
        per_row = max(8, math.ceil(math.sqrt(len(isolates)) * 3))
        top = min((y for _, y in position.values()), default=0.0) - 0.18
        for index, node in enumerate(isolates):
            row, column = divmod(index, per_row)
            in_row = min(per_row, len(isolates) - row * per_row)
            x = -1.0 + 2.0 * (column + 0.5) / per_row if in_row > 1 else 0.0
            position[node] = (x, top - 0.12 * row)
    return position


def _by_community(
    graph: nx.DiGraph, community: Mapping[str, int], seed: int,
    arrays: GraphArrays | None = None,
) -> dict[str, tuple[float, float]]:
    arr = arrays if arrays is not None else graph_arrays(graph, weight=None)
    nodes = arr.nodes
    code = np.fromiter((community.get(n, -1) for n in nodes), dtype=np.int64, count=len(nodes))
    groups, inverse, sizes = np.unique(code, return_inverse=True, return_counts=True)
    a, b = code[arr.src], code[arr.dst]
    cross = (a != b) & (a >= 0) & (b >= 0)
    pairs, weights = np.unique(np.stack([np.minimum(a[cross], b[cross]),
                                         np.maximum(a[cross], b[cross])]), axis=1,
                               return_counts=True)
    layout_graph: nx.Graph[int] = nx.Graph()
    layout_graph.add_nodes_from(int(g) for g in groups)
    layout_graph.add_weighted_edges_from(
        (int(x), int(y), float(w)) for (x, y), w in zip(pairs.T, weights, strict=True))
    centres = nx.spring_layout(layout_graph, seed=seed,
                               k=2.0 / math.sqrt(max(len(groups), 1)))
    centre = np.array([centres[int(g)] for g in groups], dtype=float)
    # each person's rank inside their community, in id order: a sunflower spiral around
    # the community's centre, radius growing with the square root of its size
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(nodes), dtype=np.int64)
    rank[order] = np.arange(len(nodes)) - np.repeat(starts, sizes)
    size = sizes[inverse].astype(float)
    radius = 0.25 * np.sqrt(size / sizes.max()) * np.sqrt((rank + 0.5) / size)
    angle = rank * _GOLDEN
    x = centre[inverse, 0] + radius * np.cos(angle)
    y = centre[inverse, 1] + radius * np.sin(angle)
    return {node: (float(px), float(py)) for node, px, py in zip(nodes, x, y, strict=True)}


def layout(
    graph: nx.DiGraph,
    community: Mapping[str, int] | None = None,
    *,
    seed: int = 0,
    full_max: int = FULL_LAYOUT_MAX,
    arrays: GraphArrays | None = None,
) -> dict[str, tuple[float, float]]:
    """Position (x, y) of every person; same graph and seed, same positions.

    Parameters
    ----------
    graph : nx.DiGraph
        The analysed network.
    community : mapping, optional
        Person -> community index (-1: none), used above ``full_max`` people.
    seed : int, default 0
    full_max : int, default FULL_LAYOUT_MAX (500)
        Largest network laid out person by person.
    arrays : GraphArrays, optional
        The analysis' array view of ``graph``, reused above ``full_max``.

    Examples
    --------
    >>> G = nx.DiGraph([("a", "b"), ("b", "c")])
    >>> G.add_node("lonely")
    >>> pos = layout(G)
    >>> sorted(pos), pos["lonely"][1] < min(pos[n][1] for n in "abc")
    (['a', 'b', 'c', 'lonely'], True)
    >>> layout(G) == pos
    True
    """
    if graph.number_of_nodes() == 0:
        return {}
    if graph.number_of_nodes() <= full_max:
        return _spring(graph, seed)
    return _by_community(graph, community or {}, seed, arrays)
