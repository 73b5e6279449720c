"""Array views of a graph shared by every analysis step: one conversion per analysis.

Python loops over 1M edges are the slow part of a 100k-person analysis, so the graph is turned
into integer edge arrays once (by :func:`analytics.graph.build_graph_arrays` straight from the
ties, or :func:`graph_arrays` from any networkx graph) and every later step works on numpy /
scipy.sparse arrays, reusing the matrices derived from them (:meth:`GraphArrays.weighted`,
:meth:`GraphArrays.adjacency`, :meth:`GraphArrays.undirected`), which are built once and kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

__all__ = [
    "GraphArrays",
    "TwoStepSets",
    "expand_rows",
    "graph_arrays",
    "reach",
    "undirected_csr",
    "unique_ints",
]


@dataclass(frozen=True, slots=True)
class GraphArrays:
    """Integer view of a directed graph.

    ``nodes`` is sorted by id so that every tie-break that falls back to position is
    deterministic whatever order the graph was built in. ``src``/``dst``/``weight`` hold the
    directed edges with self-loops removed (a self-loop neither reaches nor influences anyone).
    """

    nodes: list[str]
    index: dict[str, int]
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.nodes)

    def weighted(self) -> sp.csr_array:
        """``W[i, j]``: weight of the tie ``nodes[i] -> nodes[j]`` (CSR, built once)."""
        if "W" not in self._derived:
            W = sp.csr_array((self.weight, (self.src, self.dst)), shape=(self.n, self.n))
            W.sum_duplicates()
            W.sort_indices()
            self._derived["W"] = W
        matrix: sp.csr_array = self._derived["W"]
        return matrix

    def adjacency(self) -> sp.csr_array:
        """0/1 directed adjacency as float (CSR, built once)."""
        if "A" not in self._derived:
            A = self.weighted().copy()
            A.data[:] = 1.0
            self._derived["A"] = A
        matrix: sp.csr_array = self._derived["A"]
        return matrix

    def undirected(self) -> sp.csr_array:
        """Symmetric 0/1 adjacency, ties in either direction (int8 CSR, built once)."""
        if "B" not in self._derived:
            self._derived["B"] = undirected_csr(self)
        matrix: sp.csr_array = self._derived["B"]
        return matrix


def _as_weight(value: object) -> float:
    # Weights come from build_graph and are positive; anything odd (missing, NaN, negative,
    # non-numeric) counts as "no weight" rather than crashing a report.
    try:
        w = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return w if math.isfinite(w) and w > 0 else 0.0


def graph_arrays(G: nx.Graph, weight: str | None = "weight") -> GraphArrays:
    """Return the :class:`GraphArrays` view of ``G`` (edges taken as directed).

    Examples
    --------
    >>> G = nx.DiGraph([("b", "a"), ("a", "a")])
    >>> arr = graph_arrays(G)
    >>> arr.nodes, arr.src.tolist(), arr.dst.tolist()
    (['a', 'b'], [1], [0])
    """
    nodes = sorted(G, key=str)
    index = {node: i for i, node in enumerate(nodes)}
    # One generator pass over the adjacency dicts (an undirected graph lists every edge from
    # both ends, which is exactly the two directed copies we want).
    adj = G.adj
    lengths = np.fromiter((len(adj[u]) for u in adj), dtype=np.int64, count=len(adj))
    m = int(lengths.sum())
    src = np.repeat(np.fromiter((index[u] for u in adj), dtype=np.int64, count=len(adj)), lengths)
    dst = np.fromiter((index[v] for u in adj for v in adj[u]), dtype=np.int64, count=m)
    if weight is None:
        w = np.ones(m, dtype=np.float64)
    else:
        try:
            w = np.fromiter(
                (d.get(weight, 1.0) for u in adj for d in adj[u].values()),
                dtype=np.float64,
                count=m,
            )
        except (TypeError, ValueError):
            w = np.fromiter(
                (_as_weight(d.get(weight, 1.0)) for u in adj for d in adj[u].values()),
                dtype=np.float64,
                count=m,
            )
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    return GraphArrays(nodes, index, src, dst, w)


def unique_ints(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (sort + compare, faster than np.unique here).

    Examples
    --------
    >>> unique_ints(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    x = np.sort(np.asarray(values, dtype=np.int64))
    if x.size == 0:
        return x
    keep = np.empty(x.size, dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def undirected_csr(arr: GraphArrays) -> sp.csr_array:
    """Symmetric 0/1 adjacency (ties in either direction, no self-loops, no duplicates).

    Examples
    --------
    >>> arr = graph_arrays(nx.DiGraph([("a", "b"), ("b", "a"), ("c", "b")]))
    >>> undirected_csr(arr).toarray().tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    """
    n = arr.n
    rows = np.concatenate([arr.src, arr.dst])
    cols = np.concatenate([arr.dst, arr.src])
    data = np.ones(rows.shape[0], dtype=np.int8)
    A = sp.csr_array((data, (rows, cols)), shape=(n, n))
    A.sum_duplicates()
    A.data[:] = 1
    A.sort_indices()
    return A


def expand_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every stored entry of the CSR ``rows``, and which row each came from.

    Returns ``(owner, positions)`` where ``positions`` index ``indices``/``data`` of the CSR
    matrix and ``owner[j]`` is the position in ``rows`` that produced ``positions[j]``. This is
    the vectorised "for row in rows: for entry in row" loop.

    Examples
    --------
    >>> indptr = np.array([0, 2, 2, 5])
    >>> owner, pos = expand_rows(indptr, np.array([2, 0]))
    >>> owner.tolist(), pos.tolist()
    ([0, 0, 0, 1, 1], [2, 3, 4, 0, 1])
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    owner = np.repeat(np.arange(rows.shape[0], dtype=np.int64), lengths)
    # offset inside each row = global running index - where that row's block starts
    block_start = np.cumsum(lengths) - lengths
    positions = np.arange(total, dtype=np.int64) - np.repeat(block_start - starts, lengths)
    return owner, positions


def reach(A: sp.csr_array, sources: np.ndarray, steps: int) -> np.ndarray:
    """Boolean mask of nodes within ``steps`` hops of any source (sources included).

    Breadth-first by frontier, so the cost is the number of edges leaving reached nodes.

    Examples
    --------
    >>> arr = graph_arrays(nx.path_graph(["a", "b", "c", "d"]).to_directed())
    >>> reach(undirected_csr(arr), np.array([0]), 2).tolist()
    [True, True, True, False]
    """
    n = A.shape[0]
    reached = np.zeros(n, dtype=bool)
    frontier = unique_ints(np.asarray(sources, dtype=np.int64))
    reached[frontier] = True
    for _ in range(max(0, int(steps))):
        if frontier.size == 0:
            break
        _, pos = expand_rows(A.indptr, frontier)
        nxt = A.indices[pos]
        nxt = unique_ints(nxt[~reached[nxt]])
        reached[nxt] = True
        frontier = nxt
    return reached


class TwoStepSets:
    """Each node's two-step neighbourhood in a symmetric adjacency ``A``: the node, its
    neighbours and theirs, distinct and sorted; built the first time it is asked for and
    kept, so the lazy greedy searches that re-evaluate a candidate many times build it once.

    Nodes are built one at a time at first; once ``block_after`` nodes of the same block of
    :data:`BLOCK` consecutive nodes have been asked for, the whole block is built with one
    sparse product (rows of ``I + A + A @ A``), which is what a search over thousands of
    candidates needs (the same sets). At most ``max_kept`` entries are kept in all (int32);
    past that, sets are built again each time (the same values), so memory stays bounded.

    Examples
    --------
    >>> arr = graph_arrays(nx.path_graph(["a", "b", "c", "d"]).to_directed())
    >>> sets = TwoStepSets(undirected_csr(arr))
    >>> sets(0).tolist(), sets(3).tolist(), sets(0) is sets(0)
    ([0, 1, 2], [1, 2, 3], True)
    """

    BLOCK = 1024

    __slots__ = ("_A", "_after", "_asked", "_blocks", "_kept", "_room", "_wide")

    def __init__(self, A: sp.csr_array, max_kept: int = 12_000_000,
                 block_after: int = 16) -> None:
        self._A = A
        self._after = block_after
        self._kept: dict[int, np.ndarray] = {}
        self._blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._asked: dict[int, int] = {}
        self._room = max_kept
        self._wide: sp.csr_array | None = None

    def __call__(self, i: int) -> np.ndarray:
        found = self._kept.get(i)
        if found is not None:
            return found
        b = i // self.BLOCK
        block = self._blocks.get(b)
        if block is None:
            asked = self._asked[b] = self._asked.get(b, 0) + 1
            if asked >= self._after:
                block = self._block(b)
        if block is not None:
            indptr, indices = block
            j = i - b * self.BLOCK
            return indices[indptr[j] : indptr[j + 1]]
        return self._one(i)

    def _one(self, i: int) -> np.ndarray:
        A = self._A
        first = A.indices[A.indptr[i] : A.indptr[i + 1]]
        _, pos = expand_rows(A.indptr, first)
        out = unique_ints(np.concatenate([np.array([i], dtype=np.int64), first,
                                          A.indices[pos]]))
        if out.size <= self._room:
            out = out.astype(np.int32)
            self._kept[i] = out
            self._room -= out.size
        return out

    def _block(self, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        A = self._A
        n = A.shape[0]
        r0, r1 = b * self.BLOCK, min(n, (b + 1) * self.BLOCK)
        if self._wide is None:  # int8 entries of A would overflow in the product
            self._wide = A.astype(np.int64)
        rows = self._wide[r0:r1]
        eye = sp.csr_array((np.ones(r1 - r0, dtype=np.int64),
                            (np.arange(r1 - r0), np.arange(r0, r1))), shape=(r1 - r0, n))
        both = (eye + rows + rows @ self._wide).tocsr()
        both.sum_duplicates()
        both.sort_indices()
        if both.indices.size > self._room:
            return None
        self._room -= both.indices.size
        block = (both.indptr.copy(), both.indices.astype(np.int32))
        self._blocks[b] = block
        return block
