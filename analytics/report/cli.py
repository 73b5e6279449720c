"""``peerpulse analyze``: offline analysis of a tie list into an output folder.

``bot/cli.py`` either delegates to :func:`main` with the arguments after ``analyze`` or
adds :func:`add_arguments` to its own subparser and calls :func:`run_from_args`.
Malformed input ends in exit code 2 and one line on stderr naming file, line and problem.

Everything that can be checked before the analysis is checked first, so a mistake costs
seconds, not the whole run: the output folder must be writable; the ties file must hold at
least one tie; ``--kinds`` must name a kind the file has (the error lists the kinds there);
and the network must not have more people than ``--max-people`` (default
:data:`DEFAULT_MAX_PEOPLE`; memory grows about linearly, ~1.5 GB at 100,000 people with 5
ties each), which stops a file of random ids from exhausting the machine.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

from analytics._fork import usable_cores
from analytics.errors import AnalyticsError, AnalyticsInputError
from analytics.model import AnalysisOptions
from analytics.report.io import read_people, read_tie_columns
from analytics.results import InputReport

P = ParamSpec("P")

__all__ = [
    "DEFAULT_MAX_PEOPLE",
    "EXIT_FAILED",
    "EXIT_INPUT",
    "EXIT_OK",
    "LARGE_NETWORK",
    "PARALLEL_MIN_PEOPLE",
    "add_arguments",
    "build_parser",
    "main",
    "options_from_args",
    "run_analyze",
    "run_from_args",
]

PROG = "peerpulse analyze"
EXIT_OK = 0
#: Something went wrong that is not the input's fault (cannot write the output folder).
EXIT_FAILED = 1
#: The input is malformed or the options are invalid, as argparse's own usage errors.
EXIT_INPUT = 2

_DEFAULTS = AnalysisOptions()

#: Largest network (people) analysed without ``--max-people``: beyond it ``analyze`` refuses
#: with one line saying how many people the files hold. The bench (bench/analytics_scale.py)
#: measures ~1.5 GB and under a minute at 100,000 people; memory and time grow about
#: linearly, so 250,000 people need about 4 GB.
DEFAULT_MAX_PEOPLE = 250_000
#: From this many people on, ``analyze`` warns that the run takes a while.
LARGE_NETWORK = 50_000
#: From this many people on, ``analyze`` uses a second process where the machine has a
#: second core (and can fork): betweenness beside the rest of the analysis, the Gephi files
#: and the picture beside the other files (same outputs, byte for byte). Below it a second
#: process saves less than it costs.
PARALLEL_MIN_PEOPLE = 2_000


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _days(text: str) -> float | None:
    """A number of days > 0, or ``none``/``off``/``all`` for no limit.

    0 is refused: a window of no days would drop every tie, and a half-life of 0 is not a
    decay; ``none`` says "no limit" without ambiguity.
    """
    if text.strip().lower() in {"none", "off", "all"}:
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of days or 'none', got {text!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a positive number of days (or 'none' for no limit), got {text!r}"
        )
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value

    return parse


def _kinds(text: str) -> frozenset[str]:
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip())
    if not kinds:
        raise argparse.ArgumentTypeError("expected kinds separated by commas, like helped,kudos")
    return kinds


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``analyze`` options to ``parser`` (a parser or a subcommand parser)."""
    parser.add_argument(
        "--ties",
        required=True,
        type=Path,
        metavar="T.csv",
        help="tie list: source,target[,kind,weight,occurred_at]",
    )
    parser.add_argument(
        "--people",
        type=Path,
        metavar="P.csv",
        help="people: id[,name,team,manager,title,location,champion,joined_at]; "
        "everyone listed appears in the output, isolates included",
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="output folder (created if needed)"
    )
    parser.add_argument(
        "--window-days",
        type=_days,
        default=_DEFAULTS.window_days,
        metavar="N",
        help="only ties from the last N days (default %(default)s; 'none' for all)",
    )
    parser.add_argument(
        "--half-life-days",
        type=_days,
        default=_DEFAULTS.half_life_days,
        metavar="N",
        help="decay half-life in days (default %(default)s; 'none' for no decay)",
    )
    parser.add_argument(
        "--kinds",
        type=_kinds,
        default=None,
        metavar="a,b",
        help="only these tie kinds (default: all)",
    )
    parser.add_argument(
        "--champions-k",
        type=_count(0),
        default=_DEFAULTS.champions_k,
        metavar="K",
        help="how many champions to recommend (default %(default)s)",
    )
    parser.add_argument(
        "--min-group-size",
        type=_count(1),
        default=_DEFAULTS.min_group_size,
        metavar="N",
        help="hide figures of groups smaller than N people (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        metavar="S",
        help="random seed; same seed, same results (default %(default)s)",
    )
    parser.add_argument(
        "--max-people",
        type=_count(1),
        default=DEFAULT_MAX_PEOPLE,
        metavar="N",
        help="refuse networks of more than N people (default %(default)s; about 1.5 GB of "
        "memory per 100,000 people): raise it to analyse a larger network",
    )
    parser.add_argument(
        "--no-graphml",
        action="store_true",
        help="leave network.graphml out (network.gexf has the same graph; GraphML is the "
        "slowest file to write for a large network)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser of ``peerpulse analyze``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Analyse a tie list offline and write metrics.json, people.csv, "
        "network.gexf, network.graphml, network.png and report.html into DIR.",
    )
    return add_arguments(parser)


def options_from_args(args: argparse.Namespace) -> AnalysisOptions:
    """The :class:`AnalysisOptions` described by parsed arguments."""
    return AnalysisOptions(
        window_days=args.window_days,
        half_life_days=args.half_life_days,
        kinds=args.kinds,
        champions_k=args.champions_k,
        min_group_size=args.min_group_size,
        seed=args.seed,
    )


def _size(path: Path) -> str:
    size = path.stat().st_size
    for unit in ("bytes", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""  # unreachable


def _input_summary(report: InputReport) -> list[str]:
    lines = []
    if report.self_ties_dropped:
        lines.append(f"self-ties dropped: {report.self_ties_dropped:,}")
    unknown = report.unknown_ids
    if unknown:
        shown = ", ".join(str(u) for u in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        ties = report.unknown_ties_dropped
        lines.append(
            f"ids not in people file: {len(unknown):,} ({shown}{more}); {ties:,} ties dropped"
        )
    for count, label in (
        (report.outside_window, "ties outside the window"),
        (report.filtered_kind, "ties of other kinds"),
        (report.removed_people, "people removed (opted out or inactive)"),
    ):
        if count:
            lines.append(f"{label}: {count:,}")
    return lines


def _memory_gb(people: int) -> float:
    # Measured by bench/analytics_scale.py: about 1.5 GB (and 1.5 min) at 100,000 people.
    return max(0.1, 1.5 * people / 100_000)


def _check_writable(out_dir: Path) -> str | None:
    """Why ``out_dir`` cannot receive the output files, or None when it can.

    Nothing is created: a missing folder is checked through its nearest existing parent
    (the folder itself is made only once the input has been read).
    """
    target = out_dir
    while not target.exists():
        if target.parent == target:
            break
        target = target.parent
    if target.exists() and not target.is_dir():
        return f"{target} is a file, not a folder"
    if not os.access(target, os.W_OK | os.X_OK):
        return f"{target}: permission denied"
    try:  # the only sure test (read-only file systems, ACLs): write and remove a file
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as exc:
        return f"{target}: {exc.strerror or exc}"
    return None


def _check_kinds(kinds_in_file: set[str], wanted: frozenset[str] | None, ties_path: Path,
                 warn: Callable[[str], None]) -> None:
    if wanted is None:
        return
    there = ", ".join(sorted(k or "(no kind)" for k in kinds_in_file)) or "none"
    missing = sorted(wanted - kinds_in_file)
    if len(missing) == len(wanted):
        raise AnalyticsInputError(
            ties_path, None, f"no ties of kind {', '.join(missing)}; kinds in the file: {there}"
        )
    if missing:
        warn(f"warning: no ties of kind {', '.join(missing)} in {ties_path} "
             f"(kinds in the file: {there})")


def _collector_paused(run: Callable[P, int]) -> Callable[P, int]:
    """Run with the cyclic garbage collector paused (and restored after).

    ``analyze`` is one batch that builds millions of long-lived objects (rows, graph,
    result) which the collector would otherwise scan again and again for cycles they do not
    have: at 100,000 people reading the ties alone took twice as long. What becomes garbage
    is still freed by reference counting as usual.
    """
    @functools.wraps(run)
    def paused(*args: P.args, **kwargs: P.kwargs) -> int:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return run(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


@_collector_paused
def run_analyze(
    ties_path: str | Path,
    people_path: str | Path | None,
    out_dir: str | Path,
    *,
    options: AnalysisOptions,
    max_people: int = DEFAULT_MAX_PEOPLE,
    graphml: bool | None = None,
    echo: Callable[[str], None] = print,
    error: Callable[[str], None] = _stderr,
) -> int:
    """Read the CSVs, analyse, write the six output files; return the exit code.

    Parameters
    ----------
    ties_path, people_path, out_dir : path
        Inputs and output folder; ``people_path`` may be None (people = ids in the ties).
    options : AnalysisOptions
    max_people : int
        Refuse (exit 2) a network of more people than this.
    graphml : bool, optional
        Passed to :func:`~analytics.report.outputs.write_outputs` (None: by size).
    echo : callable
        Receives progress lines and the final summary.
    error : callable
        Receives the one-line reason on failure and warnings (default: stderr).

    Returns
    -------
    int
        0 on success, 2 for malformed input, 1 when the output cannot be written.
    """
    started = time.perf_counter()
    problem = _check_writable(Path(out_dir))
    if problem is not None:
        error(f"{PROG}: cannot write {out_dir}: {problem}")
        return EXIT_FAILED
    try:
        ties = read_tie_columns(ties_path)
        echo(f"reading ties… {len(ties):,} ties")
        if not ties:
            raise AnalyticsInputError(
                Path(ties_path), None, "no ties to analyse (a header row but no data rows)"
            )
        _check_kinds(set(ties.kind), options.kinds, Path(ties_path), error)
        people = None
        if people_path is not None:
            people = read_people(people_path)
            echo(f"reading people… {len(people):,} people")
            count = sum(1 for p in people if p.active and not p.opted_out)
        else:
            count = len(set(ties.source).union(ties.target))
        if count > max_people:
            raise AnalyticsInputError(
                Path(people_path if people_path is not None else ties_path), None,
                f"{count:,} people, more than --max-people {max_people:,}; pass "
                f"--max-people {count} to analyse them anyway (about "
                f"{_memory_gb(count):.1f} GB of memory)",
            )
        if count >= LARGE_NETWORK:
            error(f"warning: {count:,} people is a large network: expect about "
                  f"{max(1, round(count / 100_000 * 1.5))} min and {_memory_gb(count):.1f} GB of "
                  "memory")
        # Imported only now: a malformed file is reported before the analysis modules and
        # matplotlib are even loaded.
        from analytics.pipeline import analyze
        from analytics.report.outputs import write_outputs

        processes = 2 if count >= PARALLEL_MIN_PEOPLE and usable_cores() > 1 else 1
        echo("computing metrics…")
        analysis = analyze(ties, people, options, progress=lambda line: echo(f"  {line}"),
                           processes=processes)
        if analysis.result.input.ties_used == 0:
            error(f"warning: none of the {len(ties):,} ties is left to analyse after the "
                  "window, kind and people filters; the report shows people only")
        echo("writing outputs…")
        written = write_outputs(analysis, out_dir, progress=lambda line: echo(f"  {line}"),
                                graphml=graphml, processes=processes)
    except AnalyticsInputError as exc:
        error(f"{PROG}: {exc}")
        return EXIT_INPUT
    except AnalyticsError as exc:
        error(f"{PROG}: {exc}")
        return EXIT_FAILED

    network = analysis.result.network
    for line in _input_summary(analysis.result.input):
        echo(line)
    echo(
        f"analysed {network.people:,} people and {network.ties:,} ties "
        f"in {time.perf_counter() - started:.1f}s; wrote {len(written)} files to {out_dir}:"
    )
    width = max(len(name) for name in written)
    for name, path in written.items():
        echo(f"  {name:<{width}}  {_size(path)}")
    return EXIT_OK


def run_from_args(
    args: argparse.Namespace,
    *,
    echo: Callable[[str], None] = print,
    error: Callable[[str], None] = _stderr,
) -> int:
    """Run ``analyze`` from arguments parsed by a parser that :func:`add_arguments` set up."""
    return run_analyze(
        args.ties,
        args.people,
        args.out,
        options=options_from_args(args),
        max_people=args.max_people,
        # design.md: analyze always writes network.graphml unless told not to.
        graphml=not args.no_graphml,
        echo=echo,
        error=error,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``peerpulse analyze``; ``argv`` excludes the command words.

    Returns the exit code (argparse usage errors exit 2 through SystemExit, as usual).
    """
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    return run_from_args(args)


if __name__ == "__main__":
    raise SystemExit(main())
