"""read_tie_columns' plain-file path: the same columns as the careful path, same errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.errors import AnalyticsInputError
from analytics.report.io import _Rows, read_tie_columns

HEADER = "source,target,kind,weight,occurred_at\n"


def _careful(path: Path) -> list[tuple[str, ...]]:
    rows = _Rows(path, ("source", "target"))
    return list(zip(*(cells for _, cells in rows.cells()), strict=True))


@pytest.mark.parametrize("body", [
    "U1,U2,helped,1,2024-03-01\nU2,U1,kudos,2.5,2024-03-02T09:30:00Z\n",
    "U1,U2,helped,1,2024-03-01\n\nU2,U1,kudos,2,\n",            # a blank line
    "U1, U2 ,helped,1,2024-03-01\nU2,U1,kudos,2,\n",            # cells to strip
    "U1,U2,'=cmd,1,2024-03-01\nU2,U1,kudos,2,\n",               # a neutralised cell
    "U1,U2,helped,1,2024-03-01\n,,,,\nU2,U1,kudos,2,\n",        # an empty row
    "U1,U2,helped\tx,1,\nU2,U1,\"two\nlines\",2,\n",             # tab, a cell over two lines
    "U1,U2,helped,1,2024-03-01,\nU2,U1,kudos,2,\n",              # an empty extra cell
])
def test_plain_and_careful_paths_read_the_same(tmp_path: Path, body: str) -> None:
    path = tmp_path / "ties.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    plain = _Rows(path, ("source", "target")).plain_columns()
    careful = _careful(path)
    if plain is not None:  # only files that need no care take the plain path
        assert plain == careful
    cols = read_tie_columns(path)
    assert list(cols.source) == list(careful[0])
    assert list(cols.kind) == list(careful[2])


def test_a_plain_file_takes_the_plain_path(tmp_path: Path) -> None:
    path = tmp_path / "ties.csv"
    path.write_text(HEADER + "U1,U2,helped,1,2024-03-01\nU2,U1,kudos,2,\n", encoding="utf-8")
    assert _Rows(path, ("source", "target")).plain_columns() == _careful(path)


@pytest.mark.parametrize(("body", "line", "problem"), [
    ("U1,U2,helped,1,\nU2,U1,kudos,lots,\n", 3, "bad weight 'lots'"),
    ("U1,U2,helped,1,\nU2,U1,kudos,1,yesterday\n", 3, "bad date in occurred_at 'yesterday'"),
    ("U1,U2,helped,1,\n\n\nU2,,kudos,1,\n", 5, "missing target"),
])
def test_errors_in_a_plain_file_name_the_line(tmp_path: Path, body: str, line: int,
                                              problem: str) -> None:
    path = tmp_path / "ties.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(AnalyticsInputError) as caught:
        read_tie_columns(path)
    assert str(caught.value).startswith(f"{path}:{line}: {problem}")
