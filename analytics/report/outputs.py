"""Writing one analysis into an output folder: the six files ``peerpulse analyze`` promises.

``metrics.json`` (strict JSON), ``people.csv`` (one row a person), ``network.gexf`` and
``network.graphml`` (attribute types Gephi accepts), ``network.png`` and ``report.html``.
Everything comes from the analysis as given: people the analysis left out (opted out,
inactive) are never looked up again, so they cannot reappear in a file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from analytics.errors import AnalyticsError
from analytics.jsonready import json_ready
from analytics.model import Analysis
from analytics.report.draw import draw_network
from analytics.report.html import render_report
from analytics.report.io import csv_writer

__all__ = [
    "OUTPUT_FILES",
    "OutputError",
    "gephi_graph",
    "gephi_value",
    "json_ready",
    "write_gexf",
    "write_graphml",
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


# Declared attribute types, as networkx names them in both formats (Gephi reads these).
_XML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
# Characters XML 1.0 forbids even escaped; a Slack display name may still carry them.
_XML_FORBIDDEN: dict[str | int, str | None] = {c: None for c in range(32) if c not in (9, 10, 13)}
_XML_ESCAPES: dict[str | int, str | None] = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\n": "&#10;",
    "\r": "&#13;",
    "\t": "&#9;",
}
_XML_ESCAPE_TABLE = str.maketrans({**_XML_FORBIDDEN, **_XML_ESCAPES})

Attrs = dict[str, str | int | float | bool]


def _xml(value: str | int | float | bool) -> str:
    """Text for an XML attribute or element: escaped, forbidden control characters removed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).translate(_XML_ESCAPE_TABLE)


def _node_rows(analysis: Analysis) -> Iterator[tuple[str, Attrs]]:
    """Each node with its own attributes and its result metrics, Gephi-typed."""
    metrics = {person.id: person.to_dict() for person in analysis.result.people}
    for node, data in analysis.graph.nodes(data=True):
        own = metrics.get(str(node), {})
        merged: Attrs = {}
        for key, value in (*data.items(), *own.items()):
            if key in ("id", "label"):
                continue
            converted = gephi_value(value)
            if converted is not None:
                merged[str(key)] = converted
            elif key in own:
                merged.pop(str(key), None)  # the result's None wins over a stale graph value
        merged["label"] = str(data.get("name") or node)
        yield str(node), merged


def _edge_rows(analysis: Analysis) -> Iterator[tuple[str, str, Attrs]]:
    for source, target, data in analysis.graph.edges(data=True):
        attrs: Attrs = {}
        for key, value in data.items():
            converted = gephi_value(value)
            if converted is not None:
                attrs[str(key)] = converted
        weight = attrs.get("weight")
        if isinstance(weight, int | float) and not isinstance(weight, bool):
            attrs["weight"] = float(weight)  # one numeric weight type for Gephi
        yield str(source), str(target), attrs


def _declared_types(rows: Iterable[Attrs]) -> dict[str, type]:
    """One type per attribute key, as GraphML and GEXF declare one per key.

    int mixed with float becomes float; any other mix becomes str.
    """
    seen: dict[str, set[type]] = {}
    for attrs in rows:
        for key, value in attrs.items():
            seen.setdefault(key, set()).add(type(value))
    declared: dict[str, type] = {}
    for key, kinds in seen.items():
        if len(kinds) == 1:
            declared[key] = next(iter(kinds))
        else:
            declared[key] = float if kinds <= {int, float} else str
    return declared


def _coerce(attrs: Attrs, declared: Mapping[str, type]) -> Attrs:
    out: Attrs = {}
    for key, value in attrs.items():
        kind = declared[key]
        if type(value) is kind:
            out[key] = value
        elif kind is float:
            out[key] = float(value)
        else:
            out[key] = _xml(value) if isinstance(value, bool) else str(value)
    return out


def gephi_graph(analysis: Analysis) -> nx.DiGraph:
    """A copy of the analysed graph with only the attribute values Gephi accepts.

    Node attributes: the graph's own (name, team, champion, community, roles, extra
    people.csv columns) plus every per-person metric of the result, and ``label`` (name,
    else id) for Gephi's display. Only str, int, float and bool values remain, one type per
    key; None and NaN are dropped, lists joined with ``;``. :func:`write_outputs` streams
    the same data straight to GEXF and GraphML without building this copy.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> analysis = analyze([Tie("a", "b", weight=2)], [Person("a", name="Ada"), Person("b")])
    >>> analysis.graph.nodes["a"]["tags"] = ["new", "hire"]
    >>> H = gephi_graph(analysis)
    >>> H.nodes["a"]["label"], H.nodes["a"]["tags"], H.nodes["b"]["label"], H.nodes["b"]["roles"]
    ('Ada', 'new;hire', 'b', 'central_connector')
    >>> H.nodes["b"]["in_degree"], "cross_team_share" in H.nodes["b"], H.edges["a", "b"]["weight"]
    (1, False, 2.0)
    """
    node_types = _declared_types(attrs for _, attrs in _node_rows(analysis))
    edge_types = _declared_types(attrs for _, _, attrs in _edge_rows(analysis))
    clean: nx.DiGraph[str] = nx.DiGraph()
    clean.add_nodes_from((n, _coerce(a, node_types)) for n, a in _node_rows(analysis))
    clean.add_edges_from((s, t, _coerce(a, edge_types)) for s, t, a in _edge_rows(analysis))
    return clean


# Files of 100k people and a million ties are streamed: networkx's writers build the whole
# XML tree in memory first, which costs gigabytes and minutes at that size.
_CHUNK = 2000


def write_graphml(analysis: Analysis, path: str | Path) -> None:
    """Write the analysed graph as GraphML (directed; attributes as in :func:`gephi_graph`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> analysis = analyze([Tie("a", "b", weight=2)], [Person("a", name="<Ada & co>"), Person("b")])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "g.graphml"
    >>> write_graphml(analysis, out)
    >>> H = nx.read_graphml(out)
    >>> H.nodes["a"]["name"], H.edges["a", "b"]["weight"]
    ('<Ada & co>', 2.0)
    """
    node_types = _declared_types(attrs for _, attrs in _node_rows(analysis))
    edge_types = _declared_types(attrs for _, _, attrs in _edge_rows(analysis))
    node_keys = {key: f"n{i}" for i, key in enumerate(node_types)}
    edge_keys = {key: f"e{i}" for i, key in enumerate(edge_types)}
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(
            "<?xml version='1.0' encoding='utf-8'?>\n"
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
            'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
        )
        for scope, types, keys in (
            ("node", node_types, node_keys),
            ("edge", edge_types, edge_keys),
        ):
            for key, kind in types.items():
                out.write(
                    f'  <key id="{keys[key]}" for="{scope}" attr.name="{_xml(key)}" '
                    f'attr.type="{_XML_TYPES[kind]}"/>\n'
                )
        out.write('  <graph edgedefault="directed">\n')
        lines: list[str] = []
        for node, attrs in _node_rows(analysis):
            data = "".join(
                f'<data key="{node_keys[k]}">{_xml(v)}</data>'
                for k, v in _coerce(attrs, node_types).items()
            )
            lines.append(f'    <node id="{_xml(node)}">{data}</node>\n')
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        for source, target, attrs in _edge_rows(analysis):
            data = "".join(
                f'<data key="{edge_keys[k]}">{_xml(v)}</data>'
                for k, v in _coerce(attrs, edge_types).items()
            )
            lines.append(
                f'    <edge source="{_xml(source)}" target="{_xml(target)}">{data}</edge>\n'
            )
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        out.write("  </graph>\n</graphml>\n")


def write_gexf(analysis: Analysis, path: str | Path) -> None:
    """Write the analysed graph as GEXF 1.2 (directed; attributes as in :func:`gephi_graph`).

    ``label`` is the node label and ``weight`` the edge weight, as Gephi expects; every
    other attribute is declared and written as an attvalue.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> analysis = analyze([Tie("a", "b", weight=2)], [Person("a", name="<Ada & co>"), Person("b")])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "g.gexf"
    >>> write_gexf(analysis, out)
    >>> H = nx.read_gexf(out)
    >>> H.nodes["a"]["label"], H.nodes["a"]["name"], H.edges["a", "b"]["weight"]
    ('<Ada & co>', '<Ada & co>', 2.0)
    """
    node_types = _declared_types(attrs for _, attrs in _node_rows(analysis))
    edge_types = _declared_types(attrs for _, _, attrs in _edge_rows(analysis))
    node_types.pop("label", None)
    edge_types.pop("weight", None)
    node_ids = {key: str(i) for i, key in enumerate(node_types)}
    edge_ids = {key: str(i) for i, key in enumerate(edge_types)}

    def attvalues(attrs: Attrs, types: Mapping[str, type], ids: Mapping[str, str]) -> str:
        values = "".join(
            f'<attvalue for="{ids[k]}" value="{_xml(v)}"/>'
            for k, v in _coerce({k: attrs[k] for k in attrs if k in types}, types).items()
        )
        return f"<attvalues>{values}</attvalues>" if values else ""

    with Path(path).open("w", encoding="utf-8") as out:
        out.write(
            "<?xml version='1.0' encoding='utf-8'?>\n"
            '<gexf xmlns="http://www.gexf.net/1.2draft" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.gexf.net/1.2draft '
            'http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">\n'
            "  <meta><creator>PeerPulse</creator></meta>\n"
            '  <graph defaultedgetype="directed" mode="static">\n'
        )
        for scope, types, ids in (("node", node_types, node_ids), ("edge", edge_types, edge_ids)):
            if types:
                out.write(f'    <attributes class="{scope}" mode="static">\n')
                for key, kind in types.items():
                    out.write(
                        f'      <attribute id="{ids[key]}" title="{_xml(key)}" '
                        f'type="{_XML_TYPES[kind]}"/>\n'
                    )
                out.write("    </attributes>\n")
        out.write("    <nodes>\n")
        lines: list[str] = []
        for node, attrs in _node_rows(analysis):
            body = attvalues(attrs, node_types, node_ids)
            lines.append(
                f'      <node id="{_xml(node)}" label="{_xml(attrs["label"])}">{body}</node>\n'
            )
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        lines.clear()
        out.write("    </nodes>\n    <edges>\n")
        for index, (source, target, attrs) in enumerate(_edge_rows(analysis)):
            weight = attrs.get("weight")
            weight_attr = (
                f' weight="{_xml(float(weight))}"' if isinstance(weight, int | float) else ""
            )
            body = attvalues(attrs, edge_types, edge_ids)
            lines.append(
                f'      <edge id="{index}" source="{_xml(source)}" target="{_xml(target)}"'
                f"{weight_attr}>{body}</edge>\n"
            )
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        out.write("    </edges>\n  </graph>\n</gexf>\n")


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
    """One row a person; ``rows`` are metrics.json's people, already JSON-clean (no second
    cleaning pass here). Cells that a spreadsheet would run as a formula are neutralised by
    :func:`analytics.report.io.csv_writer`."""
    columns: dict[str, None] = dict.fromkeys(_LEAD_COLUMNS)
    for row in rows:
        columns.update(dict.fromkeys(row))
    # roles last: it is the one list-valued column, easiest to read at the end of a row.
    columns.pop("roles", None)
    columns["roles"] = None
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(column)) for column in columns])


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
    >>> from analytics.model import Tie
    >>> from analytics.pipeline import analyze
    >>> written = write_outputs(analyze([Tie("a", "b")]), tempfile.mkdtemp())
    >>> sorted(written)
    ['metrics.json', 'network.gexf', 'network.graphml', 'network.png', 'people.csv', 'report.html']
    """
    say = progress or (lambda _line: None)
    folder = Path(out_dir)
    written: dict[str, Path] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # json_ready again: a hand-built result may still hold NaN or numpy numbers.
        result = json_ready(analysis.result.to_dict())

        path = written["metrics.json"] = folder / "metrics.json"
        with path.open("w", encoding="utf-8") as handle:
            json.dump(result, handle, allow_nan=False, indent=2, ensure_ascii=False)
            handle.write("\n")

        path = written["people.csv"] = folder / "people.csv"
        _write_people_csv(path, result["people"])

        say("writing GEXF and GraphML…")
        path = written["network.gexf"] = folder / "network.gexf"
        write_gexf(analysis, path)
        path = written["network.graphml"] = folder / "network.graphml"
        write_graphml(analysis, path)

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
