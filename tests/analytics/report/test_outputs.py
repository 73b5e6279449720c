"""write_outputs: six files, strict JSON, Gephi-safe GEXF/GraphML, nobody re-added."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.model import Analysis, Person, Tie
from analytics.pipeline import analyze
from analytics.report.outputs import OUTPUT_FILES, OutputError, gephi_graph, write_outputs

Factory = Callable[..., Analysis]
GEPHI_TYPES = (str, int, float, bool)
# A result that names nobody, for tests of what is written from the graph alone.
NOBODY = analyze([]).result


def test_writes_the_six_files(tmp_path: Path, analysis_factory: Factory) -> None:
    lines: list[str] = []
    written = write_outputs(analysis_factory(), tmp_path / "out", progress=lines.append)
    assert list(written) == list(OUTPUT_FILES)
    for name, path in written.items():
        assert path == tmp_path / "out" / name
        assert path.stat().st_size > 0
    assert any("report" in line for line in lines)


def test_metrics_json_is_strict_json_with_every_person(
    tmp_path: Path, analysis_factory: Factory
) -> None:
    analysis = analysis_factory()
    # Values a careless pipeline might leave behind must still give valid JSON.
    network = replace(analysis.result.network, density=float("nan"), reciprocity=np.float64(0.25))
    analysis.result = replace(analysis.result, network=network)
    write_outputs(analysis, tmp_path)
    text = (tmp_path / "metrics.json").read_text(encoding="utf-8")
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["network"]["density"] is None
    assert data["network"]["reciprocity"] == 0.25
    assert [p["id"] for p in data["people"]] == sorted(analysis.graph.nodes)


def test_people_csv_has_one_row_a_person_with_roles_joined(
    tmp_path: Path, analysis_factory: Factory
) -> None:
    analysis = analysis_factory()
    write_outputs(analysis, tmp_path)
    with (tmp_path / "people.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == sorted(analysis.graph.nodes)
    header = list(rows[0])
    assert header[:5] == ["id", "name", "team", "champion", "community"]
    assert header[-1] == "roles"
    for column in ("in_degree", "out_degree", "betweenness", "pagerank", "constraint"):
        assert column in header
    isolate = next(r for r in rows if r["id"] == "U14")
    assert isolate["constraint"] == ""  # None, not "None" or "nan"
    assert isolate["roles"] == "isolate"
    first, *others = analysis.result.people
    first = replace(first, roles=("broker", "central_connector"))
    analysis.result = replace(analysis.result, people=(first, *others))
    write_outputs(analysis, tmp_path)
    with (tmp_path / "people.csv").open(encoding="utf-8", newline="") as handle:
        assert next(csv.DictReader(handle))["roles"] == "broker;central_connector"


def _assert_gephi_safe(graph: nx.Graph) -> None:
    for _, data in graph.nodes(data=True):
        # "viz" is GEXF's own position/colour/size element, read back as a dict
        assert all(isinstance(v, GEPHI_TYPES) for k, v in data.items() if k != "viz"), data
    for _, _, data in graph.edges(data=True):
        assert all(isinstance(v, GEPHI_TYPES) for v in data.values()), data


def test_gexf_and_graphml_read_back_with_attributes(
    tmp_path: Path, analysis_factory: Factory
) -> None:
    analysis = analysis_factory()
    write_outputs(analysis, tmp_path)
    for graph in (
        nx.read_gexf(tmp_path / "network.gexf"),
        nx.read_graphml(tmp_path / "network.graphml"),
    ):
        assert set(graph.nodes) == set(analysis.graph.nodes)
        assert graph.number_of_edges() == analysis.graph.number_of_edges()
        assert graph.is_directed()
        _assert_gephi_safe(graph)
    graphml = nx.read_graphml(tmp_path / "network.graphml")
    node = graphml.nodes["U00"]
    assert node["name"] == "<script>alert(1)</script>"
    assert node["champion"] is True
    assert isinstance(node["community"], int)
    assert math.isclose(node["pagerank"], analysis.result.people[0].pagerank)
    assert "constraint" not in graphml.nodes["U14"]  # None dropped, not written as "None"
    assert isinstance(graphml.edges["U00", "U01"]["weight"], float)


def test_gephi_graph_converts_awkward_values() -> None:
    graph = nx.DiGraph()
    graph.add_node("a", tags=["x", "y"], score=float("nan"), n=np.int64(2), seen={"b", "a"})
    graph.add_node("b", n=2.5, flag=True)
    graph.add_node("c", flag="maybe")
    graph.add_edge("a", "b", weight=np.float32(1.5), kinds=("helped",), count=np.int64(3))
    clean = gephi_graph(Analysis(graph, NOBODY))
    _assert_gephi_safe(clean)
    assert clean.nodes["a"] == {"tags": "x;y", "n": 2.0, "seen": "a;b", "label": "a"}
    assert clean.nodes["b"]["n"] == 2.5  # int and float mixed: all float
    assert clean.nodes["b"]["flag"] == "true" and clean.nodes["c"]["flag"] == "maybe"
    assert clean.edges["a", "b"] == {"weight": 1.5, "kinds": "helped", "count": 3}
    nx.write_graphml(clean, "/dev/null")
    nx.write_gexf(clean, "/dev/null")


def test_opted_out_people_are_never_written(tmp_path: Path, analysis_factory: Factory) -> None:
    ghost = Person("UGHOST", name="Ghost Optout", team="Sales", opted_out=True)
    analysis = analysis_factory(opted_out=ghost)
    assert "UGHOST" in analysis.people  # the record exists, as the pipeline may keep it
    write_outputs(analysis, tmp_path)
    for name in OUTPUT_FILES:
        if name == "network.png":
            continue
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "UGHOST" not in text and "Ghost Optout" not in text, name


def test_unwritable_folder_is_an_output_error(tmp_path: Path, analysis_factory: Factory) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"):
        write_outputs(analysis_factory(), blocker)


def test_empty_analysis_still_writes_valid_files(tmp_path: Path) -> None:
    analysis = analyze([])
    written = write_outputs(analysis, tmp_path)
    assert json.loads(written["metrics.json"].read_text()) == analysis.result.to_dict()
    assert analysis.result.people == ()
    assert nx.read_graphml(written["network.graphml"]).number_of_nodes() == 0
    assert nx.read_gexf(written["network.gexf"]).number_of_nodes() == 0
    assert written["people.csv"].read_text().startswith("id,name,team,champion,community")


def test_streamed_xml_survives_control_characters_and_quotes(tmp_path: Path) -> None:
    analysis = analyze([Tie("a", "b")], [Person("a", name='Zoë "Z" \x07O\'Brien\n<&>'),
                                         Person("b")])
    a, b = analysis.result.people
    analysis.result = replace(analysis.result, people=(replace(a, roles=("broker",)), b))
    write_outputs(analysis, tmp_path)
    for graph_back in (
        nx.read_graphml(tmp_path / "network.graphml"),
        nx.read_gexf(tmp_path / "network.gexf"),
    ):
        node = graph_back.nodes["a"]
        assert node["name"] == 'Zoë "Z" O\'Brien\n<&>'
        assert node["roles"] == "broker" and node["community"] == 0
        assert graph_back.nodes["b"]["label"] == "b"


def test_streamed_files_match_networkx_reading_of_gephi_graph(
    tmp_path: Path, analysis_factory: Factory
) -> None:
    analysis = analysis_factory()
    write_outputs(analysis, tmp_path)
    expected = gephi_graph(analysis)
    graphml = nx.read_graphml(tmp_path / "network.graphml")
    assert dict(graphml.nodes(data=True)) == dict(expected.nodes(data=True))
    assert {(a, b): d for a, b, d in graphml.edges(data=True)} == {
        (a, b): d for a, b, d in expected.edges(data=True)
    }
    gexf = nx.read_gexf(tmp_path / "network.gexf")
    for node, data in expected.nodes(data=True):
        assert {k: v for k, v in gexf.nodes[node].items() if k != "viz"} == data
    for a, b, data in expected.edges(data=True):
        assert {k: v for k, v in gexf.edges[a, b].items() if k != "id"} == data


_ids = st.sampled_from(["U1", "U2", "U3", "U4", "<b>x</b>", "Zoë"])


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ties=st.lists(st.tuples(_ids, _ids, st.integers(0, 3)), max_size=12),
    roster=st.one_of(st.none(), st.lists(_ids, unique=True, max_size=6)),
    opted_out=st.sets(_ids, max_size=2),
)
def test_any_small_input_gives_valid_outputs_through_the_real_pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    ties: list[tuple[str, str, int]],
    roster: list[str] | None,
    opted_out: set[str],
) -> None:
    tie_list = [Tie(a, b, weight=float(w)) for a, b, w in ties]
    people = None
    if roster is not None:
        people = [Person(i, name=f"name {i}", opted_out=i in opted_out) for i in roster]
    analysis = analyze(tie_list, people)
    out = tmp_path_factory.mktemp("out")
    written = write_outputs(analysis, out)
    data = json.loads(written["metrics.json"].read_text(), parse_constant=pytest.fail)
    ids = {p["id"] for p in data["people"]}
    assert ids == set(analysis.graph.nodes)
    if people is not None:
        assert ids == {p.id for p in people if not p.opted_out}
    assert set(nx.read_graphml(written["network.graphml"]).nodes) == ids
    assert set(nx.read_gexf(written["network.gexf"]).nodes) == ids
    assert written["network.png"].read_bytes()[:4] == b"\x89PNG"
    assert "<b>x</b>" not in written["report.html"].read_text()


def test_people_csv_neutralises_formula_cells(tmp_path: Path) -> None:
    evil = '=HYPERLINK("http://evil.example","x")'
    people = [Person("a", name=evil, team="@team"), Person("b", name="-b+1", team="@team")]
    write_outputs(analyze([Tie("a", "b"), Tie("b", "a")], people), tmp_path)
    with (tmp_path / "people.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows[1:] for cell in row]
    assert [c for c in cells if c and c[0] in "=+-@\t\r"] == []
    assert "'" + evil in cells and "'@team" in cells and "'-b+1" in cells


def test_gephi_rows_built_once_for_both_files(
    tmp_path: Path, analysis_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.report.outputs as outputs

    calls: list[int] = []
    real = outputs.gephi_table

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(outputs, "gephi_table", counting)
    write_outputs(analysis_factory(), tmp_path)
    assert calls == [1]
    assert nx.read_gexf(tmp_path / "network.gexf").number_of_nodes() == \
        nx.read_graphml(tmp_path / "network.graphml").number_of_nodes()


def test_graphml_is_left_out_above_the_documented_size_unless_asked(
    tmp_path: Path, analysis_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.report.outputs as outputs

    analysis = analysis_factory()
    monkeypatch.setattr(outputs, "GRAPHML_MAX_TIES", analysis.graph.number_of_edges() - 1)
    lines: list[str] = []
    written = write_outputs(analysis, tmp_path / "auto", progress=lines.append)
    assert "network.graphml" not in written
    assert not (tmp_path / "auto" / "network.graphml").exists()
    assert any("network.graphml left out" in line for line in lines)
    assert "network.graphml" in write_outputs(analysis, tmp_path / "asked", graphml=True)
    monkeypatch.setattr(outputs, "GRAPHML_MAX_TIES", analysis.graph.number_of_edges())
    assert list(write_outputs(analysis, tmp_path / "small")) == list(OUTPUT_FILES)


def test_metrics_json_keeps_one_person_a_line_and_reads_back(
    tmp_path: Path, analysis_factory: Factory
) -> None:
    analysis = analysis_factory()
    write_outputs(analysis, tmp_path)
    text = (tmp_path / "metrics.json").read_text(encoding="utf-8")
    assert json.loads(text) == analysis.result.to_dict()
    person_lines = [line for line in text.splitlines() if line.startswith('    {"id": ')]
    assert len(person_lines) == len(analysis.result.people)


def test_gexf_opens_laid_out_and_coloured_like_the_picture(
    tmp_path: Path, analysis_factory: Factory
) -> None:
    from analytics.labels import analysis_labels
    from analytics.report.draw import group_colours

    analysis = analysis_factory()
    write_outputs(analysis, tmp_path)
    text = (tmp_path / "network.gexf").read_text()
    assert "Confidential: named network data" in text
    assert "Confidential: named network data" in (tmp_path / "network.graphml").read_text()
    gexf = nx.read_gexf(tmp_path / "network.gexf")
    colours, _ = group_colours(analysis, "community")
    labels = analysis_labels(analysis)
    positions = set()
    for node, data in gexf.nodes(data=True):
        viz = data["viz"]
        positions.add((viz["position"]["x"], viz["position"]["y"]))
        expected = colours[node] if colours[node] != "white" else "#d9d9d9"
        got = "#{r:02x}{g:02x}{b:02x}".format(**viz["color"])
        assert got == expected
        assert data["label"] == labels[node]  # full name and team, as everywhere else
    assert len(positions) == gexf.number_of_nodes()  # everyone has a place of their own


def test_snapshots_folder_keeps_a_trend_point_and_reads_earlier_ones(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from analytics.model import AnalysisOptions, Person, Tie

    people = [Person(f"p{i}", name=f"P {i}", team="ab"[i % 2]) for i in range(10)]
    snapshots = tmp_path / "snapshots"
    for week, extra in enumerate((2, 6, 9)):
        ties = [Tie(f"p{i}", f"p{(i + 1) % 10}") for i in range(extra)]
        options = AnalysisOptions(now=datetime(2026, 1, 1 + 7 * week, tzinfo=UTC))
        write_outputs(analyze(ties, people, options), snapshots / f"2026010{week}-90d")
    html = (snapshots / "20260102-90d" / "report.html").read_text()
    assert "trend lines appear" not in html and "One point per snapshot" in html
    assert html.count('<circle cx=') >= 3 * 3  # three snapshots on each trend chart
    other = tmp_path / "elsewhere"
    write_outputs(analyze([Tie("p1", "p2")], people), other)
    assert not (other / "trend.json").exists()
    assert "trend lines appear from the next snapshot" in (other / "report.html").read_text()
