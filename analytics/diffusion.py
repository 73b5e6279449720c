"""Diffusion what-if: how far an idea spreads from a seed set (independent cascade, threshold).

Direction. A tie ``source -> target`` means the source goes to the target for help, advice
or recognition, so ideas flow the other way: the person named influences the person who
named them. Influence therefore runs ``target -> source``: once ``u`` adopts, every ``v``
with a tie ``v -> u`` may adopt next.

Influence weights. ``v``'s attention is split over the people ``v`` names in proportion to
tie weight: ``b(u, v) = w(v -> u) / out_strength(v)`` (equal shares when weights are
missing). These weights drive the linear threshold model and, with ``p=None``, the
independent cascade ("weighted cascade").

Monte Carlo runs are simulated together as a ``runs x people`` boolean matrix (numpy /
scipy.sparse), seeded, so a seed gives the same curve every time. On large graphs the number
of runs is capped so that ``runs x (people + ties)`` stays under :data:`WORK_BUDGET` and the
number of steps under :data:`MAX_STEPS`; :func:`what_if` reports the runs and steps it used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from analytics._arrays import GraphArrays, expand_rows, graph_arrays, unique_ints

__all__ = [
    "BATCH_BUDGET",
    "MAX_STEPS",
    "MIN_RUNS",
    "WORK_BUDGET",
    "effective_runs",
    "independent_cascade",
    "influence_matrix",
    "linear_threshold",
    "what_if",
]

#: Upper bound on runs x (people + ties) per simulation: ~50M keeps one model on 100k
#: people / 1M ties to a few seconds and the run matrices to a few hundred MB at most.
WORK_BUDGET = 50_000_000
#: Runs are simulated in batches of about this many people-plus-ties cells, which bounds
#: peak memory (a few hundred MB) whatever the number of runs.
BATCH_BUDGET = 4_000_000
#: Never fewer runs than this (unless fewer were asked for), however large the graph.
MIN_RUNS = 10
#: Steps are capped: with 2-step champion reach, nothing interesting happens after 100 steps.
MAX_STEPS = 100


def effective_runs(n: int, m: int, runs: int) -> int:
    """Runs actually simulated for ``n`` people and ``m`` ties when ``runs`` are asked for.

    Examples
    --------
    >>> effective_runs(34, 156, 200)
    200
    >>> effective_runs(100_000, 1_000_000, 200)
    45
    """
    runs = max(1, int(runs))
    affordable = WORK_BUDGET // max(1, n + m)
    return max(min(runs, MIN_RUNS), min(runs, affordable))


def influence_matrix(arr: GraphArrays) -> sp.csr_array:
    """Sparse ``B`` with ``B[u, v]`` = share of ``v``'s attention that goes to ``u``.

    Rows are influencers, columns the influenced; every column with any tie sums to 1.

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_edge("v", "u", weight=3.0)
    >>> G.add_edge("v", "w", weight=1.0)
    >>> B = influence_matrix(graph_arrays(G))
    >>> B.toarray().tolist()  # order u, v, w
    [[0.0, 0.75, 0.0], [0.0, 0.0, 0.0], [0.0, 0.25, 0.0]]
    """
    n = arr.n
    out_strength = np.bincount(arr.src, weights=arr.weight, minlength=n)
    out_count = np.bincount(arr.src, minlength=n).astype(np.float64)
    has_weight = out_strength[arr.src] > 0
    share = np.where(
        has_weight,
        arr.weight / np.where(out_strength[arr.src] > 0, out_strength[arr.src], 1.0),
        1.0 / np.maximum(out_count[arr.src], 1.0),
    )
    B = sp.csr_array((share, (arr.dst, arr.src)), shape=(n, n))
    B.sum_duplicates()
    return B


def _seed_index(arr: GraphArrays, seeds: Iterable[str]) -> np.ndarray:
    return np.asarray(sorted({arr.index[s] for s in seeds if s in arr.index}), dtype=np.int64)


def _pad(counts: list[np.ndarray], steps: int) -> np.ndarray:
    """Stack per-step adopter counts; once a cascade dies out nothing changes, so repeat."""
    while len(counts) < steps + 1:
        counts.append(counts[-1])
    return np.stack(counts)  # (steps + 1, batch)


def _ic_batch(B: sp.csr_array, probs: np.ndarray, seed_idx: np.ndarray, n: int, steps: int,
              batch: int, rng: np.random.Generator) -> np.ndarray:
    # The frontier is kept as the sorted flat positions run * n + person of its adopters
    # (the order np.nonzero would give), so a step costs the ties leaving the frontier, not
    # a pass over every (run, person) cell.
    active = np.zeros(batch * n, dtype=bool)
    people = unique_ints(np.asarray(seed_idx, dtype=np.int64))
    frontier = (np.arange(batch, dtype=np.int64)[:, None] * n + people[None, :]).ravel()
    active[frontier] = True
    count = np.full(batch, people.size, dtype=np.int64)
    counts = [count]
    for _ in range(steps):
        if frontier.size == 0:
            break
        run_idx, node_idx = np.divmod(frontier, n)
        owner, pos = expand_rows(B.indptr, node_idx)
        hit = rng.random(pos.size) < probs[pos]
        reached = unique_ints(run_idx[owner[hit]] * n + B.indices[pos[hit]])
        frontier = reached[~active[reached]]
        active[frontier] = True
        count = count + np.bincount(frontier // n, minlength=batch)
        counts.append(count)
    return _pad(counts, steps)


def _lt_batch(B: sp.csr_array, seed_idx: np.ndarray, n: int, steps: int, batch: int,
              rng: np.random.Generator) -> np.ndarray:
    # (0, 1]: a zero threshold would let people with no adopting contact adopt for free
    threshold = 1.0 - rng.random((batch, n))
    active = np.zeros((batch, n), dtype=bool)
    active[:, seed_idx] = True
    frontier = active.copy()
    pressure = np.zeros((batch, n), dtype=np.float64)
    counts = [active.sum(axis=1)]
    for _ in range(steps):
        if not frontier.any():
            break
        # only the newly adopted add pressure: each adopter's shares are added exactly once
        # the frontier as a 0/1 sparse matrix, built from its cells directly (the same
        # matrix scipy makes from the dense array, without the detour through COO)
        runs_of, people_of = np.nonzero(frontier)
        indptr = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(np.bincount(runs_of, minlength=batch), out=indptr[1:])
        F = sp.csr_array((np.ones(people_of.size), people_of, indptr), shape=(batch, n))
        pressure += (F @ B).toarray()
        newly = (pressure >= threshold - 1e-12) & ~active
        active |= newly
        frontier = newly
        counts.append(active.sum(axis=1))
    return _pad(counts, steps)


def _simulate(model: str, arr: GraphArrays, B: sp.csr_array, seeds: Iterable[str],
              p: float | None, steps: int, runs: int, seed: int | None) -> list[float]:
    """Run ``runs`` simulations in batches and return the mean adoption share per step.

    Batches keep every temporary array under about :data:`BATCH_BUDGET` cells; one
    generator feeds the batches in order, so the result depends only on ``seed``.
    """
    n = arr.n
    if n == 0:
        return [0.0] * (steps + 1)
    seed_idx = _seed_index(arr, seeds)
    rng = np.random.default_rng(seed)
    batch = max(1, BATCH_BUDGET // max(1, n + int(arr.src.size)))
    probs = B.data if p is None else np.full(B.data.shape, min(1.0, max(0.0, float(p))))
    total = np.zeros(steps + 1, dtype=np.float64)
    done = 0
    while done < runs:
        size = min(batch, runs - done)
        if model == "independent_cascade":
            counts = _ic_batch(B, probs, seed_idx, n, steps, size, rng)
        else:
            counts = _lt_batch(B, seed_idx, n, steps, size, rng)
        total += counts.sum(axis=1)
        done += size
    curve = total / (runs * n)
    # running maximum guards against float noise; the clip keeps shares in [0, 1]
    return [float(v) for v in np.clip(np.maximum.accumulate(curve), 0.0, 1.0)]


def _prepare(G: nx.DiGraph, steps: int, runs: int,
             weight: str | None) -> tuple[GraphArrays, int, int]:
    arr = graph_arrays(G, weight=weight)
    steps = max(0, min(int(steps), MAX_STEPS))
    return arr, steps, effective_runs(arr.n, int(arr.src.size), runs)


def independent_cascade(
    G: nx.DiGraph,
    seeds: Iterable[str],
    *,
    p: float | None = 0.1,
    steps: int = 10,
    runs: int = 200,
    seed: int | None = 0,
    weight: str | None = "weight",
) -> list[float]:
    """Expected share of people who have adopted after each step, independent cascade.

    Each person who adopts at step ``t`` gets one chance, at step ``t + 1``, to convert each
    person who names them (see the module docstring for the direction), succeeding with
    probability ``p`` (or, when ``p`` is None, the share ``b(u, v)`` of ``v``'s attention
    that goes to ``u``: the weighted cascade).

    Parameters
    ----------
    G : nx.DiGraph
        The network (tie ``v -> u``: v named u).
    seeds : iterable of str
        People who adopt at step 0 (ids not in ``G`` are ignored).
    p : float or None, optional
        Transmission probability per tie (default 0.1); None for the weighted cascade.
    steps : int, optional
        Steps to simulate (default 10, capped at :data:`MAX_STEPS`).
    runs : int, optional
        Monte Carlo runs (default 200, capped on large graphs: :func:`effective_runs`).
    seed : int or None, optional
        Random seed (default 0): the same seed gives the same curve.
    weight : str or None, optional
        Edge attribute holding tie weight (used when ``p`` is None).

    Returns
    -------
    list of float
        ``steps + 1`` values in [0, 1], non-decreasing; index 0 is ``len(seeds) / n``.

    Examples
    --------
    >>> G = nx.DiGraph([("b", "a"), ("c", "b"), ("d", "c")])
    >>> independent_cascade(G, ["a"], p=1.0, steps=3)
    [0.25, 0.5, 0.75, 1.0]
    >>> independent_cascade(G, ["d"], p=1.0, steps=2)  # d named c; nobody named d
    [0.25, 0.25, 0.25]
    """
    arr, steps, runs = _prepare(G, steps, runs, weight)
    return _simulate("independent_cascade", arr, influence_matrix(arr), seeds, p, steps, runs, seed)


def linear_threshold(
    G: nx.DiGraph,
    seeds: Iterable[str],
    *,
    steps: int = 10,
    runs: int = 200,
    seed: int | None = 0,
    weight: str | None = "weight",
) -> list[float]:
    """Expected share of people who have adopted after each step, linear threshold model.

    Each person ``v`` draws a threshold uniformly in (0, 1] per run and adopts once the
    attention shares ``b(u, v)`` of the adopters ``u`` they name add up to it (see the module
    docstring). Isolates and people who name nobody never adopt unless seeded.

    Parameters are as for :func:`independent_cascade` (no ``p``).

    Returns
    -------
    list of float
        ``steps + 1`` values in [0, 1], non-decreasing; index 0 is ``len(seeds) / n``.

    Examples
    --------
    >>> G = nx.DiGraph([("b", "a"), ("c", "b"), ("d", "c")])  # everyone names one person
    >>> linear_threshold(G, ["a"], steps=3)
    [0.25, 0.5, 0.75, 1.0]
    """
    arr, steps, runs = _prepare(G, steps, runs, weight)
    return _simulate("linear_threshold", arr, influence_matrix(arr), seeds, None, steps, runs, seed)


def what_if(
    G: nx.DiGraph,
    current: list[str],
    recommended: list[str],
    *,
    steps: int = 10,
    runs: int = 200,
    seed: int | None = 0,
    p: float | None = 0.1,
    arrays: GraphArrays | None = None,
) -> dict[str, Any]:
    """Adoption curves from the current and the recommended champions, both models.

    Both seed sets use the same random seed (common random numbers), so the difference
    between curves comes from the seed sets, not from luck.

    Returns
    -------
    dict
        ``{"steps", "runs", "p", "models": {"independent_cascade": {"current": [...],
        "recommended": [...]}, "linear_threshold": {...}}}`` where ``steps`` and ``runs`` are
        the values actually used (after the caps for large graphs).

    Examples
    --------
    >>> G = nx.DiGraph([("b", "a"), ("c", "b"), ("d", "c")])
    >>> out = what_if(G, ["d"], ["a"], steps=2, runs=20, p=1.0)
    >>> out["models"]["independent_cascade"]
    {'current': [0.25, 0.25, 0.25], 'recommended': [0.25, 0.5, 0.75]}
    >>> out["steps"], out["runs"]
    (2, 20)
    """
    if arrays is not None:  # the pipeline's arrays carry the "weight" weights
        arr = arrays
        used_steps = max(0, min(int(steps), MAX_STEPS))
        used_runs = effective_runs(arr.n, int(arr.src.size), runs)
    else:
        arr, used_steps, used_runs = _prepare(G, steps, runs, "weight")
    B = influence_matrix(arr)
    sets = (("current", current), ("recommended", recommended))
    models: dict[str, dict[str, list[float]]] = {
        "independent_cascade": {
            name: _simulate(
                "independent_cascade", arr, B, seeds, p, used_steps, used_runs, seed
            )
            for name, seeds in sets
        },
        "linear_threshold": {
            name: _simulate(
                "linear_threshold", arr, B, seeds, None, used_steps, used_runs, seed
            )
            for name, seeds in sets
        },
    }
    return {"steps": used_steps, "runs": used_runs, "p": p, "models": models}
