"""Louvain communities: quality on the karate club, determinism, ordering, edge cases."""

from __future__ import annotations

import networkx as nx

from analytics.communities import detect_communities, membership, undirected_view


def test_karate_club_modularity_at_least_0_40() -> None:
    communities, q = detect_communities(nx.karate_club_graph())
    assert q >= 0.40
    reference = nx.community.modularity(nx.karate_club_graph(), communities, weight="weight")
    assert abs(q - reference) < 1e-12
    assert set().union(*communities) == set(nx.karate_club_graph())


def test_unweighted_karate_modularity_at_least_0_40() -> None:
    G = nx.Graph(nx.karate_club_graph().edges())
    _, q = detect_communities(G, weight=None)
    assert q >= 0.40


def test_best_of_seeds_beats_or_equals_every_single_seed() -> None:
    G = nx.les_miserables_graph()
    _, best = detect_communities(G, seeds=(0, 1, 2, 3, 4))
    for seed in range(5):
        _, single = detect_communities(G, seeds=(seed,))
        assert best >= single - 1e-12


def test_deterministic_and_sorted_largest_first() -> None:
    G = nx.karate_club_graph().to_directed()
    first = detect_communities(G)
    assert detect_communities(G) == first
    sizes = [len(c) for c in first[0]]
    assert sizes == sorted(sizes, reverse=True)
    assert membership(first[0])[next(iter(first[0][0]))] == 0


def test_directed_ties_are_summed_in_the_undirected_view() -> None:
    G = nx.DiGraph([("a", "b", {"weight": 1.0}), ("b", "a", {"weight": 2.0}), ("b", "c")])
    U = undirected_view(G)
    assert U["a"]["b"]["weight"] == 3.0 and U["b"]["c"]["weight"] == 1.0


def test_empty_and_edgeless_graphs() -> None:
    assert detect_communities(nx.DiGraph()) == ([], 0.0)
    G = nx.DiGraph()
    G.add_nodes_from(["b", "a"])
    assert detect_communities(G) == ([{"a"}, {"b"}], 0.0)


def test_edge_budget_limits_the_number_of_runs(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    real = nx.community.louvain_communities

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["seed"])
        return real(*args, **kwargs)

    monkeypatch.setattr(nx.community, "louvain_communities", counting)
    G = nx.karate_club_graph()  # 78 ties
    detect_communities(G, edge_budget=200)
    assert calls == [0, 1]
    calls.clear()
    detect_communities(G, edge_budget=None)
    assert calls == [0, 1, 2, 3, 4]
    calls.clear()
    detect_communities(G, edge_budget=1)
    assert calls == [0]
