"""Scale benchmark: wall time and peak memory of a full ``analyze`` beside an igraph reference.

For each size (default 1k, 10k and 100k people, about 10 ties each, generated with a community
structure from a fixed seed) two fresh subprocesses run:

- **ours**: ``analytics.pipeline.analyze`` on ``Tie``/``Person`` objects (graph building,
  every metric, communities, roles, figures, champion picks, diffusion what-if), then, unless
  ``--no-outputs``, ``analytics.report.outputs.write_outputs`` into a temporary folder
  (metrics.json, people.csv, GEXF, GraphML, PNG, HTML);
- **igraph**: the reference pipeline in igraph: build the weighted graph, PageRank, betweenness
  computed the way ours is at that size (exact up to ``BETWEENNESS_EXACT_MAX`` people, else from
  the same number of sampled sources), Louvain (``community_multilevel``) once. For sizes where
  igraph's *exact* betweenness stays affordable (``--igraph-exact-max``, default 10k) that is
  timed too, as a second reference ("what an igraph user would run").

Peak memory is the subprocess's ``ru_maxrss`` (it includes generating the input, which is
excluded from the times). Run ``python bench/analytics_scale.py --sizes 1000,10000``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = {10_000: 15.0, 100_000: 180.0}  # seconds, from issue 3
MEMORY_TARGET_MB = 4096


def generate(n: int, ties_per_person: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """People in communities of ~50 (80% of ties inside), teams of ~40 that mostly follow them.

    Returns integer arrays: ``src``, ``dst``, ``age_days`` (0-89, so decay applies), ``team``
    per person and ``champion`` (1% of people).
    """
    rng = np.random.default_rng(seed)
    n_comm = max(1, n // 50)
    comm = rng.integers(0, n_comm, n)
    order = np.argsort(comm, kind="stable")
    starts = np.searchsorted(comm[order], np.arange(n_comm))
    ends = np.searchsorted(comm[order], np.arange(n_comm), side="right")
    src = np.repeat(np.arange(n), ties_per_person)
    inside = rng.random(src.size) < 0.8
    lo, hi = starts[comm[src]], ends[comm[src]]
    dst_in = order[lo + (rng.random(src.size) * (hi - lo)).astype(np.int64)]
    dst = np.where(inside, dst_in, rng.integers(0, n, src.size))
    # Formal teams follow communities for 70% of people, the rest are elsewhere.
    n_teams = max(1, n // 40)
    team = np.where(rng.random(n) < 0.7, comm % n_teams, rng.integers(0, n_teams, n))
    return {
        "src": src,
        "dst": dst,
        "age_days": rng.integers(0, 90, src.size),
        "team": team,
        "champion": rng.random(n) < 0.01,
    }


def run_ours(n: int, seed: int, outputs: bool) -> dict[str, Any]:
    from analytics.model import AnalysisOptions, Person, Tie
    from analytics.pipeline import analyze

    data = generate(n, seed=seed)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    ids = [f"U{i:07d}" for i in range(n)]
    team = data["team"].tolist()
    champion = data["champion"].tolist()
    people = [Person(ids[i], name=f"Person {i}", team=f"team-{team[i]}",
                     champion=champion[i]) for i in range(n)]
    stamps = [now - timedelta(days=d) for d in range(90)]
    ties = [
        Tie(ids[s], ids[t], kind="helped", occurred_at=stamps[a])
        for s, t, a in zip(data["src"].tolist(), data["dst"].tolist(), data["age_days"].tolist(),
                           strict=True)
    ]
    del data

    def say(message: str) -> None:
        print(f"  [{n:>7} ours] {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    analysis = analyze(ties, people, AnalysisOptions(now=now, seed=seed), progress=say)
    analyze_s = time.perf_counter() - started
    outputs_s = None
    if outputs:
        from analytics.report.outputs import write_outputs

        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            write_outputs(analysis, folder, progress=say)
            outputs_s = time.perf_counter() - started
    network = analysis.result.network
    return {
        "people": network.people,
        "ties": network.ties,
        "analyze_s": analyze_s,
        "outputs_s": outputs_s,
        "betweenness_method": network.betweenness_method,
        "communities": network.communities,
        "modularity": network.modularity,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_igraph(n: int, seed: int, exact_max: int) -> dict[str, Any]:
    import igraph as ig

    from analytics.metrics import BETWEENNESS_EXACT_MAX, default_pivots

    data = generate(n, seed=seed)
    weight = 0.5 ** (data["age_days"] / 30.0)

    def say(message: str) -> None:
        print(f"  [{n:>7} igraph] {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    g = ig.Graph(n=n, edges=np.column_stack([data["src"], data["dst"]]), directed=True,
                 edge_attrs={"weight": weight})
    g.simplify(multiple=True, loops=True, combine_edges="sum")
    g.pagerank(weights="weight", damping=0.85)
    say("graph and PageRank")
    k = default_pivots(n)
    if n <= BETWEENNESS_EXACT_MAX:
        g.betweenness(directed=True)
    else:
        rng = np.random.default_rng(seed)
        g.betweenness(directed=True, sources=rng.choice(n, size=k, replace=False).tolist())
    say(f"betweenness ({'exact' if n <= BETWEENNESS_EXACT_MAX else f'k={k}'})")
    u = g.as_undirected(mode="collapse", combine_edges="sum")
    u.community_multilevel(weights="weight")
    total = time.perf_counter() - started
    say("Louvain")
    exact_s = None
    if n <= exact_max:
        started = time.perf_counter()
        g.betweenness(directed=True)
        exact_s = time.perf_counter() - started
        say(f"exact betweenness for reference ({exact_s:.1f}s)")
    return {
        "reference_s": total,
        "exact_betweenness_s": exact_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def subprocess_run(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="comma-separated people counts (default 1000,10000,100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-outputs", action="store_true",
                        help="time analyze only, do not write the output files")
    parser.add_argument("--igraph-exact-max", type=int, default=10_000,
                        help="largest size for which igraph's exact betweenness is also timed")
    parser.add_argument("--worker", choices=["ours", "igraph"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "ours":
        print(json.dumps(run_ours(args.n, args.seed, not args.no_outputs)))
        return 0
    if args.worker == "igraph":
        print(json.dumps(run_igraph(args.n, args.seed, args.igraph_exact_max)))
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    rows = []
    for n in sizes:
        print(f"size {n}: ours ...", file=sys.stderr, flush=True)
        extra = ["--no-outputs"] if args.no_outputs else []
        ours = subprocess_run(["--worker", "ours", "--n", str(n), "--seed", str(args.seed), *extra])
        print(f"size {n}: igraph reference ...", file=sys.stderr, flush=True)
        ref = subprocess_run(["--worker", "igraph", "--n", str(n), "--seed", str(args.seed),
                              "--igraph-exact-max", str(args.igraph_exact_max)])
        rows.append((n, ours, ref))

    print()
    print("people   ties      analyze_s outputs_s total_s peak_MB | igraph_s ratio "
          "| igraph_exact_bc_s ratio_vs_exact | betweenness  target")
    for n, ours, ref in rows:
        total = ours["analyze_s"] + (ours["outputs_s"] or 0.0)
        ratio = ours["analyze_s"] / ref["reference_s"]
        exact = ref["exact_betweenness_s"]
        exact_ref = None if exact is None else ref["reference_s"] + exact
        target = TARGETS.get(n)
        verdict = ""
        if target is not None:
            ok = ours["analyze_s"] < target and ours["peak_mb"] < MEMORY_TARGET_MB
            verdict = f"{'OK' if ok else 'MISSED'} (<{target:.0f}s, <4GB)"
        outputs = "-" if ours["outputs_s"] is None else f"{ours['outputs_s']:.1f}"
        exact_txt = "-" if exact_ref is None else f"{exact_ref:.1f}"
        exact_ratio = "-" if exact_ref is None else f"{ours['analyze_s'] / exact_ref:.2f}x"
        print(f"{ours['people']:<8} {ours['ties']:<9} {ours['analyze_s']:<9.1f} {outputs:<9} "
              f"{total:<7.1f} {ours['peak_mb']:<7.0f} | {ref['reference_s']:<8.2f} "
              f"{ratio:<5.1f}x | {exact_txt:<17} {exact_ratio:<14} | "
              f"{ours['betweenness_method']:<12} {verdict}")
    print("\nratio = our analyze time / igraph reference time (same betweenness method); "
          "ratio_vs_exact uses igraph with exact betweenness.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
