"""Writing one analysis into an output folder: the six files ``peerpulse analyze`` promises.

``metrics.json`` (strict JSON), ``people.csv`` (one row a person), ``network.gexf`` and
``network.graphml`` (attribute types Gephi accepts), ``network.png`` and ``report.html``.
Everything comes from the analysis as given: people the analysis left out (opted out,
inactive) are never looked up again, so they cannot reappear in a file.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from analytics.draw import draw_network
from analytics.errors import AnalyticsError
from analytics.model import Analysis
from analytics.report import render_report

__all__ = [
    "OUTPUT_FILES",
    "OutputError",
    "gephi_graph",
    "gephi_value",
    "json_ready",
    "write_outputs",
]

#: The files written by :func:`write_outputs`, in writing order.
OUTPUT_FILES: tuple[str, ...] = (
    "metrics.json",
    "people.csv",
    "network.gexf",
    "network.graphml",
    "network.png",
    "report.html",
)

# Columns that lead people.csv; the metrics follow in the order the result lists them.
_LEAD_COLUMNS = ("id", "name", "team", "champion", "community")


class OutputError(AnalyticsError):
    """An output folder or file cannot be written."""


def json_ready(value: Any) -> Any:
    """Turn a result into plain JSON data: numpy scalars to numbers, NaN/inf to None.

    Tuples and sets become lists (sets sorted), datetimes ISO 8601 strings.

    Examples
    --------
    >>> json_ready({"a": float("nan"), "b": np.float64(0.5), "c": {2, 1}, "d": (np.int64(3),)})
    {'a': None, 'b': 0.5, 'c': [1, 2], 'd': [3]}
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, set | frozenset):
        return [json_ready(v) for v in sorted(value, key=str)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    return value


def gephi_value(value: Any) -> str | int | float | bool | None:
    """One attribute value as a type GEXF/GraphML readers (Gephi) accept, or None to drop it.

    Lists and sets are joined with ``;``; NaN and None are dropped; anything else
    unusual becomes its string form.

    Examples
    --------
    >>> [gephi_value(v) for v in (1, 0.5, True, "x", ["a", "b"], None, float("nan"))]
    [1, 0.5, True, 'x', 'a;b', None, None]
    """
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ";".join(str(v) for v in items)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _harmonise(rows: list[dict[str, Any]]) -> None:
    """Give every attribute key one type across all rows, as GraphML and GEXF declare one.

    int mixed with float becomes float; any other mix becomes str.
    """
    kinds: dict[str, set[type]] = {}
    for row in rows:
        for key, value in row.items():
            kinds.setdefault(key, set()).add(type(value))
    for key, seen in kinds.items():
        if len(seen) < 2:
            continue
        target: type = float if seen <= {int, float} else str
        for row in rows:
            if key in row:
                value = row[key]
                row[key] = (
                    float(value)
                    if target is float
                    else (str(value).lower() if isinstance(value, bool) else str(value))
                )


def gephi_graph(analysis: Analysis) -> nx.DiGraph:
    """A copy of the analysed graph that GEXF and GraphML writers and Gephi can take.

    Node attributes: the graph's own (name, team, champion, community, roles, extra
    people.csv columns) plus every per-person metric of the result, and ``label`` (name,
    else id) for Gephi's display. Only str, int, float and bool values remain; None and
    NaN are dropped, lists joined with ``;``.

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_node("a", name="Ada", roles=["broker"], constraint=None)
    >>> G.add_edge("a", "b", weight=2, kinds=["advice"])
    >>> H = gephi_graph(Analysis(G, {"people": [{"id": "a", "pagerank": 0.6}]}))
    >>> H.nodes["a"]
    {'name': 'Ada', 'roles': 'broker', 'pagerank': 0.6, 'label': 'Ada'}
    >>> H.nodes["b"], H.edges["a", "b"]
    ({'label': 'b'}, {'weight': 2.0, 'kinds': 'advice'})
    """
    graph = analysis.graph
    metrics = {str(row["id"]): row for row in analysis.result.get("people", []) or []}
    nodes: list[tuple[str, dict[str, Any]]] = []
    for node, data in graph.nodes(data=True):
        merged: dict[str, Any] = {}
        for key, value in (*data.items(), *metrics.get(node, {}).items()):
            if key in ("id", "label"):
                continue
            converted = gephi_value(value)
            if converted is not None:
                merged[str(key)] = converted
            elif key in merged and key in metrics.get(node, {}):
                del merged[key]  # the result's None wins over a stale graph value
        merged["label"] = str(data.get("name") or node)
        nodes.append((str(node), merged))
    edges: list[tuple[str, str, dict[str, Any]]] = []
    for source, target, data in graph.edges(data=True):
        attrs = {}
        for key, value in data.items():
            converted = gephi_value(value)
            if converted is not None:
                attrs[str(key)] = converted
        if "weight" in attrs and isinstance(attrs["weight"], int | float):
            attrs["weight"] = float(attrs["weight"])  # Gephi wants one numeric weight type
        edges.append((str(source), str(target), attrs))
    _harmonise([attrs for _, attrs in nodes])
    _harmonise([attrs for _, _, attrs in edges])
    clean: nx.DiGraph[str] = nx.DiGraph()
    clean.add_nodes_from(nodes)
    clean.add_edges_from(edges)
    return clean


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else format(value, ".10g")
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _write_people_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: dict[str, None] = dict.fromkeys(_LEAD_COLUMNS)
    for row in rows:
        columns.update(dict.fromkeys(row))
    # roles last: it is the one list-valued column, easiest to read at the end of a row.
    columns.pop("roles", None)
    columns["roles"] = None
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(_csv_cell(json_ready(row.get(column))) for column in columns)


def write_outputs(
    analysis: Analysis,
    out_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    diff: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the six output files of one analysis into ``out_dir`` (created if needed).

    Parameters
    ----------
    analysis : Analysis
        The analysis to write; nothing outside it is consulted.
    out_dir : str or Path
        The folder; existing files of the same names are replaced.
    progress : callable, optional
        Called with one short line before each slow step.
    diff : mapping, optional
        A snapshot diff (``diff_snapshots`` output) to include in the report.

    Returns
    -------
    dict
        File name (as in :data:`OUTPUT_FILES`) -> path written.

    Raises
    ------
    OutputError
        When the folder or a file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> G = nx.DiGraph([("a", "b")])
    >>> written = write_outputs(Analysis(G, {"network": {"people": 2}}), tempfile.mkdtemp())
    >>> sorted(written)
    ['metrics.json', 'network.gexf', 'network.graphml', 'network.png', 'people.csv', 'report.html']
    """
    say = progress or (lambda _line: None)
    folder = Path(out_dir)
    written: dict[str, Path] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        result = json_ready(analysis.result)

        path = written["metrics.json"] = folder / "metrics.json"
        with path.open("w", encoding="utf-8") as handle:
            json.dump(result, handle, allow_nan=False, indent=2, ensure_ascii=False)
            handle.write("\n")

        path = written["people.csv"] = folder / "people.csv"
        _write_people_csv(path, list(result.get("people", []) or []))

        say("writing GEXF and GraphML…")
        clean = gephi_graph(analysis)
        path = written["network.gexf"] = folder / "network.gexf"
        nx.write_gexf(clean, path)
        path = written["network.graphml"] = folder / "network.graphml"
        nx.write_graphml(clean, path)

        say("drawing network.png…")
        path = written["network.png"] = folder / "network.png"
        draw_network(analysis, path)

        say("writing report…")
        path = written["report.html"] = folder / "report.html"
        html = render_report(analysis, png_path=written["network.png"], diff=diff)
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        where = exc.filename or folder
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}") from exc
    return written
