"""The trust estimate, checked on simulated organisations whose true network is known."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from analytics.stability import response_coverage, top_list_stability

PEOPLE = 300
TOP = 10


def true_network(seed: int) -> list[tuple[str, str]]:
    """Everyone names 4 colleagues, chosen in proportion to a skewed (log-normal) popularity."""
    rng = np.random.default_rng(seed)
    popularity = rng.lognormal(0.0, 1.0, PEOPLE)
    p = popularity / popularity.sum()
    edges = []
    for source in range(PEOPLE):
        for target in rng.choice(PEOPLE, size=4, replace=False, p=p):
            if target != source:
                edges.append((f"{source:04d}", f"{int(target):04d}"))
    return edges


def graph(edges: list[tuple[str, str]]) -> nx.DiGraph:
    G: nx.DiGraph = nx.DiGraph(edges)
    G.add_nodes_from(f"{i:04d}" for i in range(PEOPLE))
    return G


def observe(rate: float, seed: int) -> tuple[float, float, str]:
    """(estimated overlap, true overlap with the real top list, verdict) when only ``rate``
    of the people answer."""
    edges = true_network(seed)
    truth = {pid for pid, _ in top_list_stability(graph(edges), k=TOP, resamples=1).kept}
    rng = np.random.default_rng(1000 + seed)
    answered = {f"{i:04d}" for i in range(PEOPLE) if rng.random() < rate}
    observed = top_list_stability(graph([e for e in edges if e[0] in answered]), k=TOP)
    actual = len({pid for pid, _ in observed.kept} & truth) / TOP
    assert observed.overlap is not None
    return observed.overlap, actual, observed.verdict


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_estimate_tracks_how_much_of_the_true_top_list_is_recovered(rate: float) -> None:
    runs = [observe(rate, seed) for seed in range(6)]
    estimated = float(np.mean([r[0] for r in runs]))
    actual = float(np.mean([r[1] for r in runs]))
    # The bootstrap never knows the truth; it must still land near it (measured: within
    # 0.06 at these rates, a little optimistic below 20% answers).
    assert abs(estimated - actual) <= 0.12, (rate, estimated, actual)


def test_more_answers_mean_a_more_stable_and_more_correct_list() -> None:
    by_rate = {rate: [observe(rate, seed) for seed in range(4)] for rate in (0.1, 0.4, 0.9)}
    estimated = [np.mean([r[0] for r in by_rate[rate]]) for rate in (0.1, 0.4, 0.9)]
    actual = [np.mean([r[1] for r in by_rate[rate]]) for rate in (0.1, 0.4, 0.9)]
    assert estimated[0] < estimated[1] < estimated[2]
    assert actual[0] < actual[1] < actual[2]
    # 10% answering: the list really is mostly wrong, and the verdict never calls it solid
    assert actual[0] < 0.6
    verdicts = [r[2] for r in by_rate[0.1]]
    assert "solid" not in verdicts and verdicts.count("thin") > len(verdicts) / 2
    assert all(r[2] == "solid" for r in by_rate[0.9])


def test_everyone_answered_means_nothing_to_resample() -> None:
    G = graph(true_network(0))
    s = top_list_stability(G, k=TOP)
    assert s.participation == 1.0 and s.overlap == 1.0
    assert all(share == 1.0 for _, share in s.kept)


def test_top_list_is_ordered_by_in_degree_with_ids_breaking_ties() -> None:
    G = nx.DiGraph([("a", "z"), ("b", "z"), ("c", "y"), ("d", "y"), ("e", "x")])
    s = top_list_stability(G, k=3, resamples=5)
    assert [pid for pid, _ in s.kept] == ["y", "z", "x"]


def test_nobody_answered() -> None:
    G = nx.DiGraph()
    G.add_nodes_from("abc")
    s = top_list_stability(G)
    assert s.verdict == "none" and s.overlap is None and s.kept == ()


def test_response_coverage_per_team_hides_small_teams() -> None:
    G = nx.DiGraph([("a1", "b1"), ("a2", "b1"), ("b1", "a1")])
    teams = {**{f"a{i}": "A" for i in range(5)}, **{f"b{i}": "B" for i in range(4)}}
    G.add_nodes_from(teams)
    assert response_coverage(G, teams) == {"A": 0.4, "B": None}
