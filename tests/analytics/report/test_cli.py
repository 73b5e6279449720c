"""peerpulse analyze: malformed input is one clear line and exit 2; a real run writes six files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import networkx as nx
import pytest

from analytics.model import AnalysisOptions
from analytics.report.cli import EXIT_INPUT, build_parser, main, options_from_args, run_analyze

KRACKHARDT = Path("/work/shared/data/krackhardt")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("ties", "line", "problem"),
    [
        ("source,kind\nU1,helped\n", 1, "missing required column 'target'"),
        ("source,target,occurred_at\nU1,U2,2024-01-01\nU2,U1,last tuesday\n", 3, "bad date"),
        ("", 1, "empty file"),
        ("source,target,weight\nU1,U2,lots\n", 2, "bad weight"),
    ],
)
def test_malformed_ties_exit_2_with_one_line_naming_file_line_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ties: str, line: int, problem: str
) -> None:
    path = _write(tmp_path, "ties.csv", ties)
    code = main(["--ties", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT == 2
    assert err.count("\n") == 1
    assert err.startswith(f"peerpulse analyze: {path}:{line}: ")
    assert problem in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_malformed_people_file_is_reported_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target\nU1,U2\n")
    people = _write(tmp_path, "people.csv", "id,name\nU1,Ada\nU1,Again\n")
    code = main(["--ties", str(ties), "--people", str(people), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err == f"peerpulse analyze: {people}:3: duplicate person id 'U1' (first seen on line 2)\n"
    )


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--ties", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err == f"peerpulse analyze: {tmp_path / 'nope.csv'}: file not found\n"
    )


def test_as_a_real_process_there_is_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "ties.csv", "source,target,occurred_at\nU1,U2,31/12/2024\n")
    done = subprocess.run(
        [sys.executable, "-m", "analytics.report.cli", "--ties", str(path),
         "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"peerpulse analyze: {path}:2: bad date in occurred_at '31/12/2024' "
        "(expected ISO 8601 like 2024-03-01 or 2024-03-01T09:30:00Z)"
    ]


def test_options_are_parsed() -> None:
    args = build_parser().parse_args(
        [
            "--ties",
            "t.csv",
            "--out",
            "o",
            "--window-days",
            "none",
            "--half-life-days",
            "14",
            "--kinds",
            "helped,kudos",
            "--champions-k",
            "3",
            "--min-group-size",
            "4",
            "--seed",
            "7",
        ]
    )
    assert options_from_args(args) == AnalysisOptions(
        window_days=None,
        half_life_days=14.0,
        kinds=frozenset({"helped", "kudos"}),
        champions_k=3,
        min_group_size=4,
        seed=7,
    )
    defaults = options_from_args(build_parser().parse_args(["--ties", "t", "--out", "o"]))
    assert defaults == AnalysisOptions()


@pytest.mark.parametrize(
    "bad", [["--window-days", "-3"], ["--min-group-size", "0"], ["--kinds", ","]]
)
def test_bad_options_are_usage_errors(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--ties", "t.csv", "--out", "o", *bad])
    assert stopped.value.code == 2
    assert "peerpulse analyze: error:" in capsys.readouterr().err


def test_krackhardt_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "--ties", str(KRACKHARDT / "ties-advice.csv"),
            "--people", str(KRACKHARDT / "people.csv"),
            "--out", str(out),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "reading ties… 190 ties" in captured.out
    assert "computing metrics…" in captured.out and "writing report…" in captured.out
    assert f"wrote 6 files to {out}" in captured.out

    names = {"metrics.json", "people.csv", "network.gexf", "network.graphml", "network.png",
             "report.html"}  # fmt: skip
    assert {p.name for p in out.iterdir()} == names

    metrics = json.loads(
        (out / "metrics.json").read_text(encoding="utf-8"),
        parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"),
    )
    ids = [p["id"] for p in metrics["people"]]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 22)]
    for person in metrics["people"]:
        for key in ("in_degree", "out_degree", "betweenness", "pagerank", "community", "roles"):
            assert key in person
    network = metrics["network"]
    assert network["people"] == 21 and network["ties"] == 190
    in_degree = {p["id"]: p["in_degree"] for p in metrics["people"]}
    assert max(in_degree, key=lambda i: in_degree[i]) == "2"  # Krackhardt: manager 2 leads

    for graph in (nx.read_gexf(out / "network.gexf"), nx.read_graphml(out / "network.graphml")):
        assert graph.number_of_nodes() == 21 and graph.number_of_edges() == 190

    png = out / "network.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = mpimg.imread(png).shape
    assert width >= 800 and height >= 600

    html = (out / "report.html").read_text(encoding="utf-8")
    library = (Path(__file__).parents[3] / "analytics/report/static/cytoscape.min.js").read_text()
    assert not re.search(r"https?://|src=\"//|href=\"//", html.replace(library, ""))
    assert ">21<" in html and ">190<" in html
    assert f"{network['density'] * 100:.1f}%" in html
    assert f"{network['modularity']:.3g}" in html
    assert 'src="data:image/png;base64,' in html


def test_file_without_people_or_dates_uses_raw_summed_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target,weight\na,b,2\na,b,3\nb,b,1\nb,c,\n")
    lines: list[str] = []
    code = run_analyze(ties, None, tmp_path / "o", options=AnalysisOptions(), echo=lines.append)
    assert code == 0
    graph = nx.read_graphml(tmp_path / "o" / "network.graphml")
    assert graph["a"]["b"]["weight"] == 5.0  # duplicates summed, no decay without dates
    assert graph["b"]["c"]["weight"] == 1.0
    assert not graph.has_edge("b", "b")
    assert "self-ties dropped: 1" in lines


def test_everyone_in_people_appears_and_unknown_ids_are_reported(tmp_path: Path) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target\nU1,U2\nU2,U1\nU1,UX\n")
    people = _write(tmp_path, "people.csv", "id,name\nU1,Ada\nU2,Bob\nU3,Lonely\n")
    lines: list[str] = []
    code = run_analyze(ties, people, tmp_path / "o", options=AnalysisOptions(), echo=lines.append)
    assert code == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert [p["id"] for p in metrics["people"]] == ["U1", "U2", "U3"]
    assert metrics["input"]["unknown_ids"] == ["UX"]
    assert any(line.startswith("ids not in people file: 1 (UX)") for line in lines)


def test_unwritable_output_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target\nU1,U2\n")
    blocker = _write(tmp_path, "out", "a file, not a folder")
    assert main(["--ties", str(ties), "--out", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("peerpulse analyze: cannot write") and err.count("\n") == 1


# Issue 10, item 19: mistakes are caught before the analysis, not after it ----------------


def test_unwritable_output_is_reported_before_reading_or_analysing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.pipeline

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the analysis ran before the output folder was checked")

    monkeypatch.setattr(analytics.pipeline, "analyze", must_not_run)
    ties = _write(tmp_path, "ties.csv", "source,target\nU1,U2\n")
    blocker = _write(tmp_path, "blocker", "a file")
    assert main(["--ties", str(ties), "--out", str(blocker / "sub" / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"peerpulse analyze: cannot write {blocker / 'sub' / 'out'}: "
        f"{blocker} is a file, not a folder\n"
    )
    assert "reading ties" not in captured.out


def test_header_only_ties_file_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target,kind\n")
    assert main(["--ties", str(ties), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"peerpulse analyze: {ties}: no ties to analyse (a header row but no data rows)\n"
    assert not (tmp_path / "out").exists()


def test_unknown_kind_lists_the_kinds_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target,kind\nU1,U2,helped\nU2,U1,advice\n")
    assert main(["--ties", str(ties), "--out", str(tmp_path / "o"), "--kinds", "nosuch"]) == 2
    assert capsys.readouterr().err == (
        f"peerpulse analyze: {ties}: no ties of kind nosuch; kinds in the file: advice, helped\n"
    )
    # one known, one unknown: a warning that names both, and the analysis goes on
    assert main(["--ties", str(ties), "--out", str(tmp_path / "o"), "--kinds",
                 "helped,nosuch"]) == 0
    err = capsys.readouterr().err
    assert "warning: no ties of kind nosuch" in err and "advice, helped" in err


@pytest.mark.parametrize("option", ["--window-days", "--half-life-days"])
def test_zero_days_is_refused(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--ties", "t.csv", "--out", "o", option, "0"])
    assert stopped.value.code == 2
    assert "positive number of days (or 'none' for no limit)" in capsys.readouterr().err
    args = build_parser().parse_args(["--ties", "t", "--out", "o", option, "none"])
    assert options_from_args(args).window_days is None or option == "--half-life-days"


def test_no_tie_left_after_the_filters_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ties = _write(tmp_path, "ties.csv", "source,target\nU1,U1\n")
    assert main(["--ties", str(ties), "--out", str(tmp_path / "o")]) == 0
    assert "warning: none of the 1 ties is left to analyse" in capsys.readouterr().err


def test_more_people_than_the_limit_is_refused_unless_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.pipeline

    calls: list[int] = []
    real = analytics.pipeline.analyze

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(analytics.pipeline, "analyze", counting)
    rows = "".join(f"R{i},R{i + 1}\n" for i in range(30))  # 31 distinct random-looking ids
    ties = _write(tmp_path, "ties.csv", "source,target\n" + rows)
    out = str(tmp_path / "o")
    assert main(["--ties", str(ties), "--out", out, "--max-people", "30"]) == 2
    err = capsys.readouterr().err
    assert err == (f"peerpulse analyze: {ties}: 31 people, more than --max-people 30; pass "
                   "--max-people 31 to analyse them anyway (about 0.1 GB of memory)\n")
    assert calls == [] and not (tmp_path / "o").exists()
    assert main(["--ties", str(ties), "--out", out, "--max-people", "31"]) == 0
    assert calls == [1]
    from analytics.report.cli import DEFAULT_MAX_PEOPLE

    assert build_parser().parse_args(["--ties", "t", "--out", "o"]).max_people == \
        DEFAULT_MAX_PEOPLE


def test_analyze_writes_graphml_whatever_the_size_unless_told_not_to(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # design.md: analyze writes network.graphml; the snapshot's size limit does not apply.
    from analytics.report import outputs

    monkeypatch.setattr(outputs, "GRAPHML_MAX_TIES", 1)
    ties = _write(tmp_path, "ties.csv", "source,target\na,b\nb,c\nc,a\n")
    assert main(["--ties", str(ties), "--out", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "network.graphml").is_file()
    assert main(["--ties", str(ties), "--out", str(tmp_path / "lean"), "--no-graphml"]) == 0
    assert not (tmp_path / "lean" / "network.graphml").exists()
    assert (tmp_path / "lean" / "network.gexf").is_file()
