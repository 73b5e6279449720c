"""Reading and writing ``ties.csv`` and ``people.csv`` (formats in design.md, "File formats").

Readers are forgiving about presentation (byte-order mark, blank lines, stray whitespace,
header case) and strict about content: anything they cannot interpret raises
:class:`~analytics.errors.AnalyticsInputError` naming the file, the line and the problem,
so a person can fix the file without reading a traceback.

Every CSV the project writes goes through :func:`csv_writer`, which neutralises cells a
spreadsheet would run as a formula (OWASP "CSV injection"): a text cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``. The readers take that
quote off again (:func:`restore_cell`), so an exported file reads back exactly.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

from analytics.errors import AnalyticsInputError
from analytics.graph import NO_TIME, TieColumns, micros
from analytics.model import Person, Tie

__all__ = [
    "FORMULA_TRIGGERS",
    "PEOPLE_COLUMNS",
    "TIES_COLUMNS",
    "AnalyticsInputError",
    "SafeWriter",
    "csv_writer",
    "format_datetime",
    "neutralise_cell",
    "parse_bool",
    "parse_datetime",
    "parse_weight",
    "read_people",
    "read_tie_columns",
    "read_ties",
    "restore_cell",
    "write_people",
    "write_ties",
]

#: Columns written by :func:`write_ties`, in order.
TIES_COLUMNS: tuple[str, ...] = ("source", "target", "kind", "weight", "occurred_at", "origin")
#: Known columns of people.csv, in the order :func:`write_people` writes them.
PEOPLE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "team",
    "manager",
    "title",
    "location",
    "champion",
    "joined_at",
)

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("-1", "+2.5", "-3e-4") is not a formula: it stays a number in a spreadsheet.
_GUARDED_FIRST = frozenset((*FORMULA_TRIGGERS, "'"))
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 timestamp or date into an aware UTC datetime.

    Accepts a trailing ``Z``, an explicit offset (converted to UTC), no offset (taken as
    UTC, since exports from most tools are in UTC) and a bare date (midnight UTC).

    Parameters
    ----------
    text : str
        The timestamp, already stripped of surrounding whitespace.

    Returns
    -------
    datetime
        Timezone-aware, in UTC.

    Raises
    ------
    ValueError
        When ``text`` is not ISO 8601.

    Examples
    --------
    >>> parse_datetime("2024-03-01T09:30:00Z").isoformat()
    '2024-03-01T09:30:00+00:00'
    >>> parse_datetime("2024-03-01").isoformat()
    '2024-03-01T00:00:00+00:00'
    >>> parse_datetime("2024-03-01 11:30+02:00").isoformat()
    '2024-03-01T09:30:00+00:00'
    """
    # fromisoformat in 3.11 understands "Z", offsets, a space separator and bare dates.
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime | None) -> str:
    """Format a datetime the way :func:`write_ties` does: ISO 8601 in UTC with ``Z``.

    Examples
    --------
    >>> format_datetime(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    '2024-03-01T09:30:00Z'
    >>> format_datetime(None)
    ''
    """
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def parse_weight(text: str) -> float:
    """Parse a tie weight: a finite, non-negative number; empty means 1.

    Raises
    ------
    ValueError
        When ``text`` is not a finite non-negative number.

    Examples
    --------
    >>> parse_weight("")
    1.0
    >>> parse_weight("2.5")
    2.5
    >>> parse_weight("-1")
    Traceback (most recent call last):
    ...
    ValueError: weight must be a finite number >= 0
    """
    if text == "":
        return 1.0
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("weight must be a finite number >= 0")
    return value


def parse_bool(text: str) -> bool:
    """Parse a yes/no cell: true/false, yes/no, y/n, 1/0 (any case); empty is false.

    Raises
    ------
    ValueError
        For any other text.

    Examples
    --------
    >>> parse_bool("Yes"), parse_bool("0"), parse_bool("")
    (True, False, False)
    """
    folded = text.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(text)


def _runs_as_formula(text: str) -> bool:
    return text[:1] in FORMULA_TRIGGERS and _NUMBER.fullmatch(text) is None


def neutralise_cell(text: str) -> str:
    """Return ``text`` as a CSV cell no spreadsheet runs as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    ``'`` (OWASP's advice), unless it is a plain number. A cell that already starts with
    quotes before such a character gets one more, so :func:`restore_cell` can always undo
    exactly one.

    Examples
    --------
    >>> print(neutralise_cell('=HYPERLINK("http://x","y")'))
    '=HYPERLINK("http://x","y")
    >>> [neutralise_cell(c) for c in ("@Ada", "-1", "+2.5", "Ada", "'=1", "")]
    ["'@Ada", '-1', '+2.5', 'Ada', "''=1", '']
    """
    if not text or text[0] not in _GUARDED_FIRST:  # nearly every cell: one lookup
        return text
    return "'" + text if _runs_as_formula(text.lstrip("'")) else text


def restore_cell(text: str) -> str:
    """Undo :func:`neutralise_cell` on a cell read back from a CSV file.

    Examples
    --------
    >>> restore_cell("'=SUM(A1)"), restore_cell("''=1"), restore_cell("'Ada"), restore_cell("-1")
    ('=SUM(A1)', "'=1", "'Ada", '-1')
    """
    if text[:1] == "'" and _runs_as_formula(text.lstrip("'")):
        return text[1:]
    return text


class SafeWriter:
    """A ``csv.writer`` whose text cells go through :func:`neutralise_cell`.

    The one way the project writes CSV (export, ``analyze``'s people.csv, the demo's files).
    """

    __slots__ = ("_writer",)

    def __init__(self, handle: IO[str]) -> None:
        # RFC 4180 line ends: with "\n" alone, csv leaves a cell holding a bare "\r" unquoted
        # and the file no longer reads back.
        self._writer = csv.writer(handle, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow(
            [neutralise_cell(cell) if isinstance(cell, str) else cell for cell in row]
        )

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)

    def writerows_neutral(self, rows: Iterable[Iterable[object]]) -> None:
        """Write rows whose text cells the caller has already passed through
        :func:`neutralise_cell` (one pass over the cells instead of two)."""
        self._writer.writerows(rows)


def csv_writer(handle: IO[str]) -> SafeWriter:
    """The CSV writer every file the project writes uses (formula cells neutralised).

    Examples
    --------
    >>> out = io.StringIO()
    >>> csv_writer(out).writerow(["U1", "=1+1", 2])
    >>> out.getvalue()
    "U1,'=1+1,2\\r\\n"
    """
    return SafeWriter(handle)


# A cell (cells joined by NUL) with white space at either end or a leading quote: one that
# _Rows.cells would strip or restore.
_NEEDS_CARE = re.compile(r"(?:^|\x00)(?:\s|')|\s(?:\x00|$)")


def _needs_care(joined: str) -> bool:
    """Whether a column (cells joined by NUL) has a cell with white space at either end or a
    leading quote. Printable text has no white space but the plain space, checked with
    substring searches in C; anything else goes through the regular expression."""
    if not joined.replace("\x00", "").isprintable():
        return _NEEDS_CARE.search(joined) is not None
    return (joined[:1] in (" ", "'") or joined.endswith(" ") or "\x00 " in joined
            or " \x00" in joined or "\x00'" in joined)


class _LineNeeded(Exception):
    """An error message needs a line number that the plain-columns path did not keep."""


class _Rows:
    """A header-checked CSV reader.

    Iterating yields ``(line_number, values, raw)``: ``values`` maps lower-cased column
    names to stripped cells, ``raw`` maps the header's own spelling to the same cells.
    """

    def __init__(self, path: str | Path, required: Sequence[str]) -> None:
        self.path = Path(path)
        text = self._read_text()
        self._reader = csv.reader(io.StringIO(text, newline=""))
        self.header = self._read_header(required)

    def error(self, line: int | None, problem: str) -> AnalyticsInputError:
        return AnalyticsInputError(self.path, line, problem)

    def _read_text(self) -> str:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise self.error(None, "file not found") from None
        except IsADirectoryError:
            raise self.error(None, "is a directory, expected a CSV file") from None
        except OSError as exc:
            raise self.error(None, f"cannot read file ({exc.strerror})") from None
        try:
            # utf-8-sig drops the byte-order mark spreadsheet programs like to add.
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise self.error(line, "not UTF-8 text (save the file as CSV UTF-8)") from None

    def _next_row(self) -> list[str] | None:
        """Next non-blank row, or None at the end; csv errors become input errors."""
        while True:
            try:
                row = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise self.error(self._reader.line_num, f"malformed CSV ({exc})") from None
            if any(cell.strip() for cell in row):
                return row

    def _read_header(self, required: Sequence[str]) -> list[str]:
        row = self._next_row()
        if row is None:
            wanted = ", ".join(required)
            raise self.error(1, f"empty file (expected a header row with {wanted})")
        line = self._reader.line_num
        header = [restore_cell(cell.strip()) for cell in row]
        folded = [name.lower() for name in header]
        seen: set[str] = set()
        for name in folded:
            if name and name in seen:
                raise self.error(line, f"duplicate column '{name}' in header")
            seen.add(name)
        for column in required:
            if column not in seen:
                found = ", ".join(header) if any(header) else "nothing"
                raise self.error(line, f"missing required column '{column}' (header has: {found})")
        # Known columns are matched case-insensitively; extra columns keep their spelling.
        return header

    def cells(self) -> Iterator[tuple[int, list[str]]]:
        """``(line_number, cells)`` per data row: stripped, quotes undone, padded to the
        header's width. No dict per row: the fast path for large files."""
        width = len(self.header)
        padding = [""] * width
        while (row := self._next_row()) is not None:
            if len(row) > width and any(cell.strip() for cell in row[width:]):
                raise self.error(self._reader.line_num,
                                 f"row has {len(row)} fields but the header has {width}")
            cells = [c if c[:1] != "'" else restore_cell(c)
                     for c in (cell.strip() for cell in row[:width])]
            if len(cells) < width:
                cells += padding[len(cells):]
            yield self._reader.line_num, cells

    def plain_columns(self) -> list[tuple[str, ...]] | None:
        """The data rows as columns when the file needs none of :meth:`cells`' care, else
        None (and the rows are consumed: read the file again with a new reader).

        Plain means: every row has exactly the header's width, no row is blank, and no cell
        has a leading quote or surrounding white space. Then the columns are the cells as
        they are, with one pass in C per column instead of Python work per row; what
        :meth:`cells` would give, without the line numbers (a caller that needs one for an
        error message reads the file again the careful way).
        """
        width = len(self.header)
        try:
            rest = list(self._reader)
        except csv.Error:
            return None
        if not rest or set(map(len, rest)) != {width} or not all(map(any, rest)):
            return None
        columns = list(zip(*rest, strict=True))
        for column in columns:
            if _needs_care("\x00".join(column)):
                return None
        return columns

    def __iter__(self) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
        width = len(self.header)
        keys = [name.lower() for name in self.header]
        while (row := self._next_row()) is not None:
            line = self._reader.line_num
            extra = [cell for cell in row[width:] if cell.strip()]
            if extra:
                raise self.error(line, f"row has {len(row)} fields but the header has {width}")
            cells = [restore_cell(cell.strip()) for cell in row[:width]]
            cells += [""] * (width - len(cells))
            values = dict(zip(keys, cells, strict=True))
            raw = dict(zip(self.header, cells, strict=True))
            yield line, values, raw


def read_ties(path: str | Path) -> list[Tie]:
    """Read a ``ties.csv``: header row, ``source,target`` required.

    Optional columns: ``kind``, ``weight`` (default 1), ``occurred_at`` (ISO 8601; ``Z``,
    offsets and bare dates accepted, times without offset taken as UTC) and ``origin``.
    Other columns are ignored. Self-ties and unknown ids are kept: deciding what to do with
    them belongs to the analysis, which reports them. :func:`read_tie_columns` reads the
    same file as columns, which is what the analysis wants for large files.

    Parameters
    ----------
    path : str or Path
        The CSV file.

    Returns
    -------
    list of Tie
        One tie per data row, in file order.

    Raises
    ------
    AnalyticsInputError
        Missing file, empty file, missing column, empty source/target, bad weight or bad
        date; the message names the file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.csv"
    >>> _ = p.write_text("source,target,weight\\nU1,U2,2\\n\\nU2,U1,\\n")
    >>> [(t.source, t.target, t.weight) for t in read_ties(p)]
    [('U1', 'U2', 2.0), ('U2', 'U1', 1.0)]
    """
    return read_tie_columns(path).to_ties()


def read_tie_columns(path: str | Path) -> TieColumns:
    """Read a ``ties.csv`` into :class:`~analytics.graph.TieColumns`, checked as
    :func:`read_ties` checks it.

    Rows are only split into columns; each distinct weight and date text is parsed once
    (a file has few distinct values of either), and an error still names the first line
    holding the bad value.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.csv"
    >>> _ = p.write_text("source,target,occurred_at\\nU1,U2,2024-03-01\\nU2,U1,\\n")
    >>> cols = read_tie_columns(p)
    >>> list(cols.source), cols.weight.tolist(), len(cols)
    (['U1', 'U2'], [1.0, 1.0], 2)
    """
    rows = _Rows(path, ("source", "target"))
    plain = rows.plain_columns()  # the common case: no per-row work in Python
    if plain is not None:
        try:
            return _tie_columns(rows, plain, len(plain[0]), None)
        except _LineNeeded:  # a bad value: read again, keeping line numbers for the message
            pass
    rows = _Rows(path, ("source", "target"))
    lines: list[int] = []
    table: list[list[str]] = []
    for line, cells in rows.cells():
        lines.append(line)
        table.append(cells)
    columns: list[Sequence[str]] = list(zip(*table, strict=True)) if table else \
        [()] * len(rows.header)
    return _tie_columns(rows, columns, len(table), lines)


def _tie_columns(rows: _Rows, columns: Sequence[Sequence[str]], n: int,
                 lines: list[int] | None) -> TieColumns:
    """The checked columns of a ties file; ``lines`` (each row's line) may be None only as
    long as no error needs one (:class:`_LineNeeded` is raised instead)."""
    position = {name.lower(): i for i, name in enumerate(rows.header)}

    def line_of(row: int) -> int:
        if lines is None:
            raise _LineNeeded
        return lines[row]

    def column(name: str) -> Sequence[str]:
        i = position.get(name)
        return columns[i] if i is not None else [""] * n

    source, target = column("source"), column("target")
    for name, values in (("source", source), ("target", target)):
        if "" in values:
            raise rows.error(line_of(list(values).index("")), f"missing {name}")

    weights: dict[str, float] = {}
    for i, text in enumerate(column("weight")):
        if text not in weights:
            try:
                weights[text] = parse_weight(text)
            except ValueError:
                raise rows.error(line_of(i), f"bad weight '{text}' (expected a number >= 0)") \
                    from None
    stamps: dict[str, int] = {"": int(NO_TIME)}
    for i, text in enumerate(column("occurred_at")):
        if text not in stamps:
            try:
                stamps[text] = micros(parse_datetime(text))
            except ValueError:
                raise rows.error(
                    line_of(i),
                    f"bad date in occurred_at '{text}' "
                    "(expected ISO 8601 like 2024-03-01 or 2024-03-01T09:30:00Z)",
                ) from None
    return TieColumns(
        source=list(source),
        target=list(target),
        kind=list(column("kind")),
        weight=np.fromiter(map(weights.__getitem__, column("weight")), dtype=np.float64,
                           count=n),
        occurred_us=np.fromiter(map(stamps.__getitem__, column("occurred_at")),
                                dtype=np.int64, count=n),
        origin=list(column("origin")),
    )


def read_people(path: str | Path) -> list[Person]:
    """Read a ``people.csv``: header row, ``id`` required.

    Optional columns: ``name``, ``team``, ``manager``, ``title``, ``location``,
    ``champion`` (true/false, yes/no, 1/0; empty is false) and ``joined_at`` (kept as
    text, checked to be an ISO 8601 date). Every other column is kept in ``Person.attrs``
    under its header spelling.

    Raises
    ------
    AnalyticsInputError
        Missing file, empty file, missing ``id`` column or value, duplicate id, bad
        champion flag or bad joined_at; the message names the file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
    >>> _ = p.write_text("\\ufeffid, team ,champion,Level\\n1,dept-4,yes,3\\n")
    >>> read_people(p)[0]
    Person(id='1', name='', team='dept-4', manager='', title='', location='', \
champion=True, joined_at='', active=True, opted_out=False, attrs={'Level': '3'})
    """
    rows = _Rows(path, ("id",))
    known = set(PEOPLE_COLUMNS)
    extra_columns = [name for name in rows.header if name and name.lower() not in known]
    people: list[Person] = []
    first_line: dict[str, int] = {}
    for line, values, raw in rows:
        person_id = values["id"]
        if not person_id:
            raise rows.error(line, "missing id")
        if person_id in first_line:
            first = first_line[person_id]
            problem = f"duplicate person id '{person_id}' (first seen on line {first})"
            raise rows.error(line, problem)
        first_line[person_id] = line
        raw_champion = values.get("champion", "")
        try:
            champion = parse_bool(raw_champion)
        except ValueError:
            raise rows.error(
                line, f"bad champion value '{raw_champion}' (expected true/false, yes/no or 1/0)"
            ) from None
        joined_at = values.get("joined_at", "")
        if joined_at:
            try:
                parse_datetime(joined_at)
            except ValueError:
                raise rows.error(
                    line, f"bad date in joined_at '{joined_at}' (expected ISO 8601 like 2024-03-01)"
                ) from None
        people.append(
            Person(
                id=person_id,
                name=values.get("name", ""),
                team=values.get("team", ""),
                manager=values.get("manager", ""),
                title=values.get("title", ""),
                location=values.get("location", ""),
                champion=champion,
                joined_at=joined_at,
                attrs={name: raw[name] for name in extra_columns},
            )
        )
    return people


def _format_weight(weight: float) -> str:
    # Whole weights are written as integers so round-tripped files stay diff-friendly.
    return str(int(weight)) if float(weight).is_integer() else repr(float(weight))


def write_ties(path: str | Path, ties: Iterable[Tie]) -> int:
    """Write ties in the ``ties.csv`` format, one row per tie event, never aggregated.

    Columns: ``source,target,kind,weight,occurred_at,origin`` (times in UTC with ``Z``).

    Returns
    -------
    int
        The number of rows written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ties.csv"
    >>> write_ties(p, [Tie("U1", "U2", "helped", 1.0, datetime(2024, 3, 1, tzinfo=UTC), "poll:7")])
    1
    >>> print(p.read_text(), end="")
    source,target,kind,weight,occurred_at,origin
    U1,U2,helped,1,2024-03-01T00:00:00Z,poll:7
    >>> read_ties(p)[0].occurred_at == datetime(2024, 3, 1, tzinfo=UTC)
    True
    """
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(TIES_COLUMNS)
        for tie in ties:
            writer.writerow(
                (
                    tie.source,
                    tie.target,
                    tie.kind,
                    _format_weight(tie.weight),
                    format_datetime(tie.occurred_at),
                    tie.origin,
                )
            )
            count += 1
    return count


def write_people(path: str | Path, people: Iterable[Person]) -> int:
    """Write people in the ``people.csv`` format that :func:`read_people` reads back.

    Columns: ``id,name,team,manager,title,location,champion,joined_at`` followed by every
    ``attrs`` key in first-seen order. The caller decides who is listed: opted-out people
    must not be passed in.

    Returns
    -------
    int
        The number of rows written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
    >>> write_people(p, [Person("U1", name="Ada", champion=True, attrs={"level": "2"})])
    1
    >>> print(p.read_text(), end="")
    id,name,team,manager,title,location,champion,joined_at,level
    U1,Ada,,,,,true,,2
    """
    people = list(people)
    extra: dict[str, None] = {}
    for person in people:
        for key in person.attrs:
            if key.lower() not in PEOPLE_COLUMNS:
                extra.setdefault(key)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow((*PEOPLE_COLUMNS, *extra))
        for person in people:
            writer.writerow(
                (
                    person.id,
                    person.name,
                    person.team,
                    person.manager,
                    person.title,
                    person.location,
                    "true" if person.champion else "false",
                    person.joined_at,
                    *(person.attrs.get(key, "") for key in extra),
                )
            )
    return len(people)
