"""write_outputs with a second process: the same bytes, and failures reported as before."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from analytics._fork import can_fork
from analytics.model import Analysis, Person, Tie
from analytics.pipeline import analyze
from analytics.report.outputs import OUTPUT_FILES, OutputError, write_outputs

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork")


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    rng = random.Random(5)
    people = [Person(f"P{i:03d}", name=f"Person {i}", team=f"t{i // 30}", champion=i % 50 == 0)
              for i in range(300)]
    ties = [Tie(f"P{i:03d}", f"P{(i // 30 * 30 + rng.randrange(30)) % 300:03d}")
            for i in range(300) for _ in range(4)]
    ties += [Tie(f"P{rng.randrange(300):03d}", f"P{rng.randrange(300):03d}") for _ in range(200)]
    return analyze(ties, people)


def test_files_written_by_two_processes_are_the_same_bytes(tmp_path: Path,
                                                           analysis: Analysis) -> None:
    one = write_outputs(analysis, tmp_path / "one")
    lines: list[str] = []
    two = write_outputs(analysis, tmp_path / "two", processes=2, progress=lines.append)
    assert list(two) == list(OUTPUT_FILES)
    for name in OUTPUT_FILES:
        assert two[name].read_bytes() == one[name].read_bytes(), name
    assert lines == ["writing GEXF and GraphML…", "drawing network.png…", "writing report…"]


def test_a_file_the_second_process_cannot_write_is_an_output_error(
        tmp_path: Path, analysis: Analysis) -> None:
    (tmp_path / "network.gexf").mkdir()  # a folder where the GEXF file should go
    with pytest.raises(OutputError, match=r"network\.gexf"):
        write_outputs(analysis, tmp_path, processes=2)
    assert (tmp_path / "report.html").exists()  # the rest was written meanwhile
