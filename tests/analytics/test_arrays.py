"""TwoStepSets: sets built a block at a time equal sets built one node at a time."""

from __future__ import annotations

import networkx as nx
import numpy as np

from analytics._arrays import TwoStepSets, graph_arrays, undirected_csr


def test_block_built_sets_equal_node_built_sets() -> None:
    G = nx.gnm_random_graph(3000, 9000, seed=4, directed=True)
    G.add_nodes_from([3000, 3001])  # isolated people: their set is themselves
    A = undirected_csr(graph_arrays(nx.relabel_nodes(G, lambda v: f"P{v:05d}")))
    one_by_one = TwoStepSets(A, block_after=10**9)
    by_block = TwoStepSets(A, block_after=1)
    for i in range(A.shape[0]):
        expected = one_by_one(i)
        assert np.array_equal(by_block(i), expected)
        assert i in expected and np.all(np.diff(expected) > 0)
    assert by_block(A.shape[0] - 1).tolist() == [A.shape[0] - 1]


def test_memory_cap_still_gives_the_same_sets() -> None:
    G = nx.path_graph(50, create_using=nx.DiGraph)
    A = undirected_csr(graph_arrays(nx.relabel_nodes(G, lambda v: f"P{v:02d}")))
    capped = TwoStepSets(A, max_kept=4, block_after=1)
    free = TwoStepSets(A)
    assert all(np.array_equal(capped(i), free(i)) for i in range(50))
