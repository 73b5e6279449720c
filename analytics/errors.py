"""The analytics exception family: every error the analytics raise on purpose.

Callers at the edge (the CLI, the bot) catch :class:`AnalyticsError` and turn it into one
clear line; anything else escaping the analytics is a bug.
"""

from __future__ import annotations

from pathlib import Path


class AnalyticsError(Exception):
    """Base class of every error the analytics raise on purpose."""


class AnalyticsInputError(AnalyticsError):
    """A CSV input file cannot be read: the message names the file, the line and the problem.

    Parameters
    ----------
    path : str or Path
        The file being read.
    line : int or None
        1-based physical line number (the header is line 1); None when no line applies
        (file missing, not UTF-8 before any line could be read).
    problem : str
        What is wrong, phrased for the person who wrote the file.

    Examples
    --------
    >>> str(AnalyticsInputError("ties.csv", 7, "bad weight 'x'"))
    "ties.csv:7: bad weight 'x'"
    >>> str(AnalyticsInputError("ties.csv", None, "file not found"))
    'ties.csv: file not found'
    """

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {problem}")
