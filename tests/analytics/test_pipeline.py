"""analyze end to end: the typed result and its metrics.json shape, valid on any input."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.model import Analysis, AnalysisOptions, Person, Tie
from analytics.pipeline import analyze
from analytics.results import AnalysisResult

KRACKHARDT = Path("/work/shared/data/krackhardt")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
FAST = AnalysisOptions(now=NOW, diffusion_runs=5, diffusion_steps=3, champions_k=2)

TOP_KEYS = {
    "confidential", "generated_at", "options", "input", "network", "teams", "team_matrix",
    "communities", "people", "roles", "role_rules", "recommendation", "diffusion",
}
NETWORK_KEYS = {
    "people", "ties", "density", "reciprocity", "clustering", "components",
    "largest_component_share", "isolates", "communities", "modularity", "e_i_index",
    "champions", "champion_coverage", "betweenness_method",
}
PERSON_KEYS = {
    "id", "name", "team", "champion", "community", "in_degree", "out_degree", "in_strength",
    "out_strength", "reciprocity", "betweenness", "pagerank", "constraint", "effective_size",
    "clustering", "two_step_reach", "cross_team_share", "roles",
}


def assert_valid(analysis: Analysis) -> dict[str, Any]:
    """Every output is valid: JSON without NaN, people list = graph nodes, contract keys.

    Returns the metrics.json document, after checking that it reads back into the same
    typed result.
    """
    result = analysis.result.to_dict()
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert AnalysisResult.from_dict(result) == analysis.result
    assert set(result) == TOP_KEYS
    assert set(result["network"]) == NETWORK_KEYS
    ids = [row["id"] for row in result["people"]]
    assert ids == sorted(analysis.graph, key=str)
    assert ids == sorted(ids)
    for row in result["people"]:
        assert set(row) == PERSON_KEYS
        attrs = analysis.graph.nodes[row["id"]]
        assert attrs["community"] == row["community"]
        assert attrs["roles"] == ",".join(row["roles"])
    assert result["network"]["people"] == analysis.graph.number_of_nodes()
    assert result["network"]["ties"] == analysis.graph.number_of_edges()
    # isolates are in no community (design.md): everyone else in exactly one
    in_none = [row["id"] for row in result["people"] if row["community"] == -1]
    assert all("isolate" in row["roles"] for row in result["people"] if row["community"] == -1)
    assert sum(c["size"] for c in result["communities"]) == len(ids) - len(in_none)
    assert result["network"]["communities"] == len(result["communities"])
    assert set(analysis.people) == set(analysis.graph)
    return result


def read_krackhardt(kind: str) -> tuple[list[Tie], list[Person]]:
    with (KRACKHARDT / "people.csv").open(newline="") as f:
        people = [
            Person(row["id"], team=row["team"], champion=row["id"] in {"7", "14"})
            for row in csv.DictReader(f)
        ]
    with (KRACKHARDT / f"ties-{kind}.csv").open(newline="") as f:
        ties = [Tie(row["source"], row["target"], kind=row["kind"]) for row in csv.DictReader(f)]
    return ties, people


def test_krackhardt_advice_end_to_end() -> None:
    ties, people = read_krackhardt("advice")
    messages: list[str] = []
    analysis = analyze(ties, people, FAST, progress=messages.append)
    assert_valid(analysis)
    assert messages[-1].startswith("done")
    result = analysis.result
    network = result.network
    assert network.people == 21 and network.ties == 190
    assert network.e_i_index is not None and abs(network.e_i_index - 0.516) < 5e-4
    assert network.champions == 2
    assert network.betweenness_method == "exact"
    leaders = sorted(result.people, key=lambda p: (-p.in_degree, int(p.id)))[:3]
    assert [p.id for p in leaders] == ["2", "18", "21"]
    assert result.input.ties_used == 190
    teams = {row.team: row for row in result.teams}
    assert teams["dept-0"].suppressed and teams["dept-0"].e_i_index is None
    assert set(result.roles) >= set(result.role_rules)


def test_deterministic_apart_from_the_timestamp() -> None:
    ties, people = read_krackhardt("friendship")
    first = analyze(ties, people, FAST).result
    second = analyze(ties, people, FAST).result
    assert replace(first, generated_at="") == replace(second, generated_at="")


def test_opted_out_people_are_absent_everywhere() -> None:
    ties, people = read_krackhardt("advice")
    people = [Person(p.id, team=p.team, opted_out=p.id == "2") for p in people]
    analysis = analyze(ties, people, FAST)
    text = json.dumps(assert_valid(analysis))
    assert "2" not in analysis.graph
    assert '"id": "2"' not in text
    assert analysis.result.input.removed_people == 1


def test_empty_input() -> None:
    result = assert_valid(analyze([], None, FAST))
    assert result["people"] == [] and result["network"]["people"] == 0


def test_one_person_no_ties() -> None:
    result = assert_valid(analyze([], [Person("solo", team="x", champion=True)], FAST))
    assert result["people"][0]["constraint"] is None
    assert result["people"][0]["community"] == -1  # an isolate, not a community of one
    assert result["communities"] == [] and result["network"]["communities"] == 0


def test_all_opted_out() -> None:
    people = [Person(i, opted_out=True) for i in "abc"]
    result = assert_valid(analyze([Tie("a", "b"), Tie("b", "c")], people, FAST))
    assert result["people"] == [] and result["input"]["removed_people"] == 3


ids = st.sampled_from(["a", "b", "c", "d", "e", "f", "ghost"])
ties_strategy = st.lists(
    st.builds(
        Tie,
        source=ids,
        target=ids,  # self-loops, duplicates and unknown ids all occur
        kind=st.sampled_from(["", "advice", "helped"]),
        weight=st.sampled_from([1.0, 2.5, 0.0, -1.0, float("nan")]),
        occurred_at=st.one_of(
            st.none(), st.integers(-3, 120).map(lambda d: NOW - timedelta(days=d))
        ),
    ),
    max_size=40,
)
people_strategy = st.one_of(
    st.none(),
    st.lists(
        st.builds(
            Person,
            id=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
            team=st.sampled_from(["", "x", "y"]),
            champion=st.booleans(),
            opted_out=st.booleans(),
            active=st.booleans(),
        ),
        max_size=8,
    ),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ties=ties_strategy, people=people_strategy, min_group=st.sampled_from([1, 2, 5]))
def test_any_input_gives_a_valid_result(
    ties: list[Tie], people: list[Person] | None, min_group: int
) -> None:
    options = AnalysisOptions(
        now=NOW, diffusion_runs=3, diffusion_steps=2, champions_k=2, min_group_size=min_group
    )
    analysis = analyze(ties, people, options)
    assert_valid(analysis)
    if people is not None:
        allowed = {p.id for p in people}
        assert set(analysis.graph) <= allowed


def test_person_rows_fields_are_in_the_order_the_pipeline_fills_them() -> None:
    # analyze builds PersonResult rows positionally; a reordered field would shift values.
    import dataclasses

    from analytics.metrics import METRICS
    from analytics.results import PersonResult

    assert [f.name for f in dataclasses.fields(PersonResult)] == [
        "id", "name", "team", "champion", "community", *METRICS, "roles"]
