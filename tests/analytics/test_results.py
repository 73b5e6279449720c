"""The typed result: metrics.json keeps its keys, and the typed object agrees with the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.model import AnalysisOptions, Person
from analytics.pipeline import analyze
from analytics.report.io import read_people, read_ties
from analytics.report.outputs import write_outputs
from analytics.results import AnalysisResult, PersonResult

KRACKHARDT = Path("/work/shared/data/krackhardt")
FAST = AnalysisOptions(diffusion_runs=5, diffusion_steps=3)

# metrics.json as it was written before the result was typed: every key, in file order;
# since issue 12 it opens with its confidentiality warning.
KEYS = {
    "": ["confidential", "generated_at", "options", "input", "network", "teams", "team_matrix",
         "communities", "people", "roles", "role_rules", "recommendation", "diffusion"],
    "options": ["window_days", "half_life_days", "kinds", "kind_weights", "now",
                "min_group_size", "champions_k", "seed", "diffusion_runs", "diffusion_steps"],
    "input": ["ties_read", "ties_used", "self_ties_dropped", "unknown_ids",
              "unknown_ties_dropped", "outside_window", "filtered_kind", "invalid_weight",
              "removed_people", "removed_ties_dropped", "window_end"],
    "network": ["people", "ties", "density", "reciprocity", "clustering", "components",
                "largest_component_share", "isolates", "communities", "modularity",
                "e_i_index", "champions", "champion_coverage", "betweenness_method"],
    "network.champion_coverage": ["one_step", "two_step"],
    "teams[0]": ["team", "size", "e_i_index", "cross_team_share", "internal_ties",
                 "external_ties", "champion_coverage", "suppressed"],
    "teams[0].champion_coverage": ["one_step", "two_step"],
    "team_matrix": ["teams", "counts"],
    "communities[0]": ["id", "size", "teams"],
    "people[0]": ["id", "name", "team", "champion", "community", "in_degree", "out_degree",
                  "in_strength", "out_strength", "reciprocity", "betweenness", "pagerank",
                  "constraint", "effective_size", "clustering", "two_step_reach",
                  "cross_team_share", "roles"],
    "roles": ["central_connector", "broker", "boundary_spanner", "peripheral", "isolate",
              "rising", "fading"],
    "role_rules": ["central_connector", "broker", "boundary_spanner", "peripheral",
                   "isolate", "rising", "fading"],
    "recommendation": ["k", "recommended", "top_degree", "random", "current"],
    "recommendation.recommended": ["ids", "coverage_one_step", "coverage_two_step"],
    "diffusion": ["steps", "runs", "p", "models"],
    "diffusion.models": ["independent_cascade", "linear_threshold"],
    "diffusion.models.linear_threshold": ["current", "recommended"],
}


def _at(document: dict, path: str) -> dict:
    node = document
    for part in filter(None, path.replace("[0]", ".0").split(".")):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


@pytest.fixture(scope="module")
def krackhardt(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnalysisResult, dict]:
    people = [Person(p.id, team=p.team, champion=p.id in {"7", "14"})
              for p in read_people(KRACKHARDT / "people.csv")]
    analysis = analyze(read_ties(KRACKHARDT / "ties-advice.csv"), people, FAST)
    folder = tmp_path_factory.mktemp("krackhardt")
    write_outputs(analysis, folder)
    return analysis.result, json.loads((folder / "metrics.json").read_text(encoding="utf-8"))


def test_metrics_json_keeps_every_key_in_order(krackhardt: tuple[AnalysisResult, dict]) -> None:
    _, written = krackhardt
    for path, keys in KEYS.items():
        assert list(_at(written, path)) == keys, path
    assert all(list(person) == KEYS["people[0]"] for person in written["people"])


def test_typed_result_agrees_with_the_written_file(
    krackhardt: tuple[AnalysisResult, dict],
) -> None:
    result, written = krackhardt
    assert result.to_dict() == written
    assert AnalysisResult.from_dict(written) == result
    assert result.network.people == written["network"]["people"] == 21
    assert result.network.density == written["network"]["density"]
    assert result.network.champion_coverage.two_step == (
        written["network"]["champion_coverage"]["two_step"])
    row = next(p for p in written["people"] if p["id"] == "18")
    person = result.person("18")
    assert (person.in_degree, person.betweenness, person.roles) == (
        row["in_degree"], row["betweenness"], tuple(row["roles"]))
    assert result.recommendation.recommended.ids == tuple(written["recommendation"]
                                                          ["recommended"]["ids"])
    assert result.diffusion.models["linear_threshold"]["current"] == tuple(
        written["diffusion"]["models"]["linear_threshold"]["current"])
    assert result.options == FAST


def test_a_renamed_or_missing_key_fails_loudly(krackhardt: tuple[AnalysisResult, dict]) -> None:
    _, written = krackhardt
    row = dict(written["people"][0])
    row["betweeness"] = row.pop("betweenness")
    with pytest.raises(TypeError):
        PersonResult.from_dict(row)
    broken = {key: value for key, value in written.items() if key != "diffusion"}
    with pytest.raises(KeyError):
        AnalysisResult.from_dict(broken)


def test_person_lookup_and_names() -> None:
    result = analyze([], [Person("a", name="Ada"), Person("b")], FAST).result
    assert result.person("a").label == "Ada" and result.person("b").label == "b"
    assert result.names() == {"a": "Ada", "b": "b"}
    with pytest.raises(KeyError):
        result.person("nobody")


def test_metrics_json_opens_with_its_confidentiality_warning(
    krackhardt: tuple[AnalysisResult, dict],
) -> None:
    _, written = krackhardt
    assert next(iter(written)) == "confidential"
    assert written["confidential"] == "Confidential: named network data"
    # A file written before the warning existed still reads back, and gains it.
    older = {key: value for key, value in written.items() if key != "confidential"}
    assert AnalysisResult.from_dict(older).to_dict() == written
