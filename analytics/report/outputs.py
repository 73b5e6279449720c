"""Writing one analysis into an output folder: the six files ``peerpulse analyze`` promises.

``metrics.json`` (strict JSON), ``people.csv`` (one row a person), ``network.gexf`` and
``network.graphml`` (attribute types Gephi accepts), ``network.png`` and ``report.html``.
Everything comes from the analysis as given: people the analysis left out (opted out,
inactive) are never looked up again, so they cannot reappear in a file. One layout
(:func:`analytics.layout.layout`) places people in the picture, the report's map and the GEXF
file alike; people are labelled by full name and team (:func:`analytics.labels.analysis_labels`).
Files whose format has room for it say they are confidential (report, picture, GEXF, GraphML);
``metrics.json`` says so in its first key, ``confidential``; ``people.csv``, one row a person,
has no room for it.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from analytics._fork import ChildFailed, can_fork, in_child
from analytics.errors import AnalyticsError
from analytics.jsonready import json_ready
from analytics.labels import analysis_labels
from analytics.layout import layout
from analytics.model import Analysis
from analytics.report.draw import draw_network, group_colours
from analytics.report.html import CONFIDENTIAL, render_report
from analytics.report.io import csv_writer, neutralise_cell
from analytics.trends import TrendPoint, trend_point

__all__ = [
    "GRAPHML_MAX_TIES",
    "OUTPUT_FILES",
    "GephiTable",
    "OutputError",
    "gephi_graph",
    "gephi_table",
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
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # the common cases, checked first
        return value  # type: ignore[no-any-return]
    if kind is float:
        return value if math.isfinite(value) else None
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
_NOT_ATTRIBUTES = frozenset({"id", "label"})


def _xml(value: str | int | float | bool) -> str:
    """Text for an XML attribute or element: escaped, forbidden control characters removed."""
    kind = type(value)
    if kind is str:
        return value.translate(_XML_ESCAPE_TABLE)  # type: ignore[union-attr]
    if kind is float:
        return repr(value)
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).translate(_XML_ESCAPE_TABLE)


@dataclass(frozen=True)
class GephiTable:
    """The analysed graph as GEXF and GraphML rows, built once and written twice.

    Every value is already one of the Gephi types (str, int, float, bool) with one type per
    attribute key (``node_types`` / ``edge_types``): the two writers only format text.
    """

    nodes: list[tuple[str, Attrs]]
    edges: list[tuple[str, str, Attrs]]
    node_types: dict[str, type]
    edge_types: dict[str, type]

    @cached_property
    def xml_nodes(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Each node's id and (key, value) pairs as escaped XML text, escaped once for both
        files."""
        text = _XmlText()
        return [(text(node), text.pairs(attrs)) for node, attrs in self.nodes]

    @cached_property
    def xml_edges(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """Each tie's ends and (key, value) pairs as escaped XML text, escaped once."""
        ids = {node: text for (node, _), (text, _) in zip(self.nodes, self.xml_nodes,
                                                           strict=True)}
        text = _XmlText()
        return [(ids.get(s) or text(s), ids.get(t) or text(t), text.pairs(attrs))
                for s, t, attrs in self.edges]


class _XmlText:
    """:func:`_xml` with repeated strings (teams, kinds, roles) escaped once."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, value: str | int | float | bool) -> str:
        if type(value) is str:
            done = self._seen.get(value)
            if done is None:
                done = self._seen[value] = _xml(value)
            return done
        return _xml(value)

    def pairs(self, attrs: Attrs) -> list[tuple[str, str]]:
        """(key, text) of every attribute; numbers formatted inline (the common case)."""
        out = []
        seen = self._seen
        for key, value in attrs.items():
            kind = type(value)
            if kind is float:
                out.append((key, repr(value)))
            elif kind is int:
                out.append((key, str(value)))
            elif kind is str:
                done = seen.get(value)  # type: ignore[arg-type]
                if done is None:
                    done = seen[value] = _xml(value)  # type: ignore[index]
                out.append((key, done))
            else:
                out.append((key, _xml(value)))
        return out


def _declare(seen: dict[str, set[type]]) -> tuple[dict[str, type], bool]:
    """One type per key (int mixed with float is float, any other mix str); and whether any
    key is mixed (only then do rows need converting)."""
    declared: dict[str, type] = {}
    mixed = False
    for key, kinds in seen.items():
        if len(kinds) == 1:
            declared[key] = next(iter(kinds))
        else:
            mixed = True
            declared[key] = float if kinds <= {int, float} else str
    return declared, mixed


def gephi_table(analysis: Analysis, people: Iterable[Mapping[str, Any]] | None = None,
                *, with_edges: bool = True) -> GephiTable:
    """Build the GEXF/GraphML rows of an analysis in one pass over nodes and one over ties.

    Node attributes: the graph's own (name, team, champion, community, roles, extra
    people.csv columns) plus every per-person metric of the result (``people``: the
    result's plain people rows when the caller has them already), and ``label`` (name,
    else id). None and NaN are dropped (the result's None wins over a graph value), lists
    joined with ``;``.
    """
    rows = people if people is not None else (p.to_dict() for p in analysis.result.people)
    metrics = {str(row["id"]): row for row in rows}
    labels = analysis_labels(analysis)
    node_seen: dict[str, set[type]] = {}
    nodes: list[tuple[str, Attrs]] = []
    last_type: dict[str, type] = {}

    def note(seen: dict[str, set[type]], key: str, kind: type) -> None:
        if last_type.get(key) is not kind:  # one set update per change of type, not per value
            seen.setdefault(key, set()).add(kind)
            last_type[key] = kind

    for node, data in analysis.graph.nodes(data=True):
        own = metrics.get(str(node), {})
        merged: Attrs = {}
        # Graph attributes first (in their order), the result's value winning, then the
        # result's own keys; the result's None removes a stale graph value.
        for key, value in data.items():
            if key in _NOT_ATTRIBUTES:
                continue
            converted = gephi_value(own.get(key, value))
            if converted is not None:
                merged[str(key)] = converted
        for key, value in own.items():
            if key in _NOT_ATTRIBUTES or key in data:
                continue
            kind = type(value)
            if kind is str or kind is int or kind is bool or kind is float:
                merged[key] = value  # the plain rows of to_dict: already clean
            elif value is not None:
                converted = gephi_value(value)
                if converted is not None:
                    merged[key] = converted
        merged["label"] = labels.get(node) or str(data.get("name") or node)
        for key, value in merged.items():
            note(node_seen, key, type(value))
        nodes.append((str(node), merged))
    edge_seen: dict[str, set[type]] = {}
    edges: list[tuple[str, str, Attrs]] = []
    last_type.clear()
    plain_ties = False
    for source, target, data in (analysis.graph.edges(data=True) if with_edges else ()):
        if len(data) == 3 and type(data.get("weight")) is float \
                and type(data.get("count")) is int and type(data.get("kinds")) is str:
            # the pipeline's ties: nothing to convert
            edges.append((str(source), str(target), data.copy()))
            plain_ties = True
            continue
        attrs: Attrs = {}
        for key, value in data.items():
            converted = gephi_value(value)
            if converted is not None:
                attrs[str(key)] = converted
        weight = attrs.get("weight")
        if isinstance(weight, int) and not isinstance(weight, bool):
            attrs["weight"] = float(weight)  # one numeric weight type for Gephi
        for key, value in attrs.items():
            note(edge_seen, key, type(value))
        edges.append((str(source), str(target), attrs))
    if plain_ties:
        for key, kind in (("weight", float), ("count", int), ("kinds", str)):
            edge_seen.setdefault(key, set()).add(kind)
    node_types, node_mixed = _declare(node_seen)
    edge_types, edge_mixed = _declare(edge_seen)
    if node_mixed:
        nodes = [(n, _coerce(a, node_types)) for n, a in nodes]
    if edge_mixed:
        edges = [(s, t, _coerce(a, edge_types)) for s, t, a in edges]
    return GephiTable(nodes, edges, node_types, edge_types)


_PLAIN_KEYS = ("weight", "count", "kinds")
#: The declared edge attributes of a graph whose ties are all the pipeline's own.
_PLAIN_EDGE_TYPES: dict[str, type] = {"weight": float, "count": int, "kinds": str}
PlainEdges = list[tuple[str, str, float, int, str]]


def _plain_edges(graph: nx.DiGraph) -> PlainEdges | None:
    """Every tie as (source, target, weight, count, kinds) when all of them are exactly the
    pipeline's (those three attributes, in that order, of those types); else None.

    Such ties need no conversion, so :func:`write_gexf` and :func:`write_graphml` format
    their lines directly (one f-string a tie) instead of going through per-tie attribute
    dicts: the same text, a fraction of the time for 500,000 ties.
    """
    rows: PlainEdges = []
    append = rows.append
    for source, target, data in graph.edges(data=True):
        if len(data) != 3:
            return None
        weight, count, kinds = data.get("weight"), data.get("count"), data.get("kinds")
        if type(weight) is not float or type(count) is not int or type(kinds) is not str \
                or tuple(data) != _PLAIN_KEYS:
            return None
        append((str(source), str(target), weight, count, kinds))
    return rows or None


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

    The same rows as :func:`gephi_table` (which :func:`write_outputs` streams straight to
    GEXF and GraphML without building this copy): only str, int, float and bool values,
    one type per key; None and NaN dropped, lists joined with ``;``.

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
    table = gephi_table(analysis)
    clean: nx.DiGraph[str] = nx.DiGraph()
    clean.add_nodes_from(table.nodes)
    clean.add_edges_from(table.edges)
    return clean


def _xml_ids(table: GephiTable) -> dict[str, str]:
    """Each node's id -> its escaped XML text (as :attr:`GephiTable.xml_nodes` has it)."""
    return {node: text for (node, _), (text, _) in zip(table.nodes, table.xml_nodes,
                                                       strict=True)}


# Ties formatted (and written) at a time by the plain-ties path of the writers.
_EDGE_CHUNK = 50_000

# Files of 100k people and a million ties are streamed: networkx's writers build the whole
# XML tree in memory first, which costs gigabytes and minutes at that size.
_CHUNK = 2000

#: Above this many ties ``write_outputs`` leaves ``network.graphml`` out unless asked
#: (``graphml=True``, ``peerpulse analyze --graphml``): GEXF carries the same graph for
#: Gephi, and GraphML adds a file of ~250 bytes a tie (120 MB at 500,000 ties).
GRAPHML_MAX_TIES = 200_000


def write_graphml(analysis: Analysis, path: str | Path, table: GephiTable | None = None,
                  *, plain_edges: PlainEdges | None = None) -> None:
    """Write the analysed graph as GraphML (directed; attributes as in :func:`gephi_table`).

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
    table = table if table is not None else gephi_table(analysis)
    node_keys = {key: f"n{i}" for i, key in enumerate(table.node_types)}
    edge_keys = {key: f"e{i}" for i, key in enumerate(table.edge_types)}
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(
            "<?xml version='1.0' encoding='utf-8'?>\n"
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
            'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
        )
        for scope, types, keys in (
            ("node", table.node_types, node_keys),
            ("edge", table.edge_types, edge_keys),
        ):
            for key, kind in types.items():
                out.write(
                    f'  <key id="{keys[key]}" for="{scope}" attr.name="{_xml(key)}" '
                    f'attr.type="{_XML_TYPES[kind]}"/>\n'
                )
        out.write(f'  <graph edgedefault="directed">\n    <desc>{CONFIDENTIAL}</desc>\n')
        lines: list[str] = []
        for node, pairs in table.xml_nodes:
            data = "".join(f'<data key="{node_keys[k]}">{v}</data>' for k, v in pairs)
            lines.append(f'    <node id="{node}">{data}</node>\n')
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        if plain_edges is not None:  # the ties as table (rows of _PLAIN_EDGE_TYPES), one line each
            out.write("".join(lines))
            lines.clear()
            ids = _xml_ids(table)
            kinds_text = _XmlText()
            kw, kc, kk = (edge_keys[key] for key in _PLAIN_KEYS)
            for start in range(0, len(plain_edges), _EDGE_CHUNK):
                out.write("".join([
                    f'    <edge source="{ids[s]}" target="{ids[t]}"><data key="{kw}">{w!r}</data>'
                    f'<data key="{kc}">{c}</data><data key="{kk}">{kinds_text(k)}</data>'
                    '</edge>\n'
                    for s, t, w, c, k in plain_edges[start:start + _EDGE_CHUNK]]))
        for source, target, pairs in table.xml_edges:
            data = "".join(f'<data key="{edge_keys[k]}">{v}</data>' for k, v in pairs)
            lines.append(f'    <edge source="{source}" target="{target}">{data}</edge>\n')
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        out.write("  </graph>\n</graphml>\n")


def _viz(analysis: Analysis,
         positions: Mapping[str, tuple[float, float]] | None) -> dict[str, str]:
    """Each node's GEXF ``viz`` elements: position (the shared layout), colour (its
    community's, as in the picture; isolated people light grey) and size (PageRank)."""
    graph = analysis.graph
    if positions is None:
        positions = layout(graph, {p.id: p.community for p in analysis.result.people
                                   if p.community >= 0}, seed=analysis.result.options.seed)
    colours, _ = group_colours(analysis, "community")
    ranks = {p.id: p.pagerank or 0.0 for p in analysis.result.people}
    top = max(ranks.values(), default=0.0) or 1.0
    out: dict[str, str] = {}
    for node in graph:
        x, y = positions.get(node, (0.0, 0.0))
        colour = colours.get(node, "#d9d9d9")
        colour = "#d9d9d9" if colour == "white" else colour
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        size = 4.0 + 26.0 * ranks.get(node, 0.0) / top
        out[str(node)] = (f'<viz:position x="{x * 500:.2f}" y="{y * 500:.2f}" z="0.0"/>'
                          f'<viz:color r="{r}" g="{g}" b="{b}"/><viz:size value="{size:.2f}"/>')
    return out


def write_gexf(analysis: Analysis, path: str | Path, table: GephiTable | None = None,
               positions: Mapping[str, tuple[float, float]] | None = None, *,
               plain_edges: PlainEdges | None = None) -> None:
    """Write the analysed graph as GEXF 1.2 (directed; attributes as in :func:`gephi_table`).

    ``label`` is the node label (full name and team) and ``weight`` the edge weight, as Gephi
    expects; every other attribute is declared and written as an attvalue. Each node also
    has a ``viz`` position (``positions``, else :func:`analytics.layout.layout`), colour and
    size, so Gephi opens the file laid out and coloured as the picture is.

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
    >>> sorted(H.nodes["a"]["viz"])
    ['color', 'position', 'size']
    """
    table = table if table is not None else gephi_table(analysis)
    viz = _viz(analysis, positions)
    node_types = {k: v for k, v in table.node_types.items() if k != "label"}
    edge_types = {k: v for k, v in table.edge_types.items() if k != "weight"}
    node_ids = {key: str(i) for i, key in enumerate(node_types)}
    edge_ids = {key: str(i) for i, key in enumerate(edge_types)}

    def attvalues(pairs: list[tuple[str, str]], ids: Mapping[str, str]) -> str:
        values = "".join(
            f'<attvalue for="{ids[k]}" value="{v}"/>' for k, v in pairs if k in ids
        )
        return f"<attvalues>{values}</attvalues>" if values else ""

    with Path(path).open("w", encoding="utf-8") as out:
        out.write(
            "<?xml version='1.0' encoding='utf-8'?>\n"
            '<gexf xmlns="http://www.gexf.net/1.2draft" '
            'xmlns:viz="http://www.gexf.net/1.2draft/viz" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.gexf.net/1.2draft '
            'http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">\n'
            f"  <meta><creator>PeerPulse</creator><description>{CONFIDENTIAL}"
            "</description></meta>\n"
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
        raw_id = {text: raw for (raw, _), (text, _) in zip(table.nodes, table.xml_nodes,
                                                           strict=True)}
        for node, pairs in table.xml_nodes:
            body = attvalues(pairs, node_ids)
            label = next(v for k, v in pairs if k == "label")
            lines.append(f'      <node id="{node}" label="{label}">{body}'
                         f'{viz.get(raw_id[node], "")}</node>\n')
            if len(lines) >= _CHUNK:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        lines.clear()
        out.write("    </nodes>\n    <edges>\n")
        if plain_edges is not None:  # the ties as table (rows of _PLAIN_EDGE_TYPES), one line each
            ids = _xml_ids(table)
            kinds_text = _XmlText()
            count_id, kinds_id = edge_ids["count"], edge_ids["kinds"]
            for start in range(0, len(plain_edges), _EDGE_CHUNK):
                out.write("".join([
                    f'      <edge id="{index}" source="{ids[s]}" target="{ids[t]}" weight="{w!r}">'
                    f'<attvalues><attvalue for="{count_id}" value="{c}"/>'
                    f'<attvalue for="{kinds_id}" value="{kinds_text(k)}"/></attvalues></edge>\n'
                    for index, (s, t, w, c, k) in enumerate(
                        plain_edges[start:start + _EDGE_CHUNK], start)]))
        weighted = table.edge_types.get("weight") is float
        for index, (source, target, pairs) in enumerate(table.xml_edges):
            weight = next((v for k, v in pairs if k == "weight"), None) if weighted else None
            weight_attr = f' weight="{weight}"' if weight is not None else ""
            body = attvalues(pairs, edge_ids)
            lines.append(
                f'      <edge id="{index}" source="{source}" target="{target}"'
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
    names = list(columns)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(names)
        for start in range(0, len(rows), _CHUNK):
            writer.writerows_neutral([[_people_cell(row.get(column)) for column in names]
                                      for row in rows[start:start + _CHUNK]])


def _people_cell(value: Any) -> str:
    """:func:`_csv_cell`, neutralised as :func:`~analytics.report.io.csv_writer` would: text
    through :func:`~analytics.report.io.neutralise_cell`, numbers as they are (a formatted
    number is a plain number, which neutralising leaves alone)."""
    kind = type(value)
    if kind is str:
        return neutralise_cell(value)
    if kind is float:
        return format(value, ".10g") if math.isfinite(value) else ""
    if kind is int:
        return str(value)
    return neutralise_cell(_csv_cell(value))


def metrics_json(result: Mapping[str, Any]) -> str:
    """The text of ``metrics.json``: indented, one person (and one team-matrix row) a line.

    ``json`` indents only with its pure-Python encoder (seconds for 100,000 people), so
    the per-person rows and the team matrix's rows, the bulk of the file, are encoded
    compactly by the C encoder, one per line, and everything else is indented as usual.
    Strict JSON (no NaN).

    Examples
    --------
    >>> result = {"network": {"people": 2}, "people": [{"id": "a"}, {"id": "b"}]}
    >>> print(metrics_json(result), end="")
    {
      "network": {
        "people": 2
      },
      "people": [
        {"id": "a"},
        {"id": "b"}
      ]
    }
    """
    encode = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode  # what json.dumps
    # builds for these options on every call

    def lines(rows: Iterable[Any], indent: str) -> str:
        body = f",\n{indent}  ".join(map(encode, rows))
        return f"[\n{indent}  {body}\n{indent}]"

    parts = []
    for key, value in result.items():
        if key == "people" and value:
            text = lines(value, "  ")
        elif key == "team_matrix" and isinstance(value, Mapping) and value.get("counts"):
            # thousands of teams make millions of cells: one row of the matrix a line
            teams = json.dumps(value["teams"], allow_nan=False, ensure_ascii=False)
            text = (f'{{\n    "teams": {teams},\n    "counts": '
                    f'{lines(value["counts"], "    ")}\n  }}')
        else:
            text = json.dumps(value, allow_nan=False, indent=2, ensure_ascii=False)
            text = text.replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    body = ",\n".join(parts)
    return f"{{\n{body}\n}}\n" if parts else "{}\n"


TREND_FILE = "trend.json"


def _snapshot_history(folder: Path, analysis: Analysis) -> list[TrendPoint]:
    """In a ``snapshots`` folder: write this snapshot's trend point, read the earlier ones.

    Elsewhere (``peerpulse analyze --out DIR``) nothing is read or written: the folders
    around an arbitrary output folder are none of ours.
    """
    if folder.parent.name != "snapshots":
        return []
    point = trend_point(analysis.result, analysis.graph)
    (folder / TREND_FILE).write_text(json.dumps(point.to_dict(), allow_nan=False),
                                     encoding="utf-8")
    history = []
    for other in sorted(folder.parent.glob(f"*/{TREND_FILE}")):
        if other.parent == folder:
            continue
        try:
            earlier = TrendPoint.from_dict(json.loads(other.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue  # a half-written or foreign file never breaks a report
        if earlier.window_days == point.window_days:
            history.append(earlier)
    return history


def _write_gephi(analysis: Analysis, written: Mapping[str, Path],
                 people: list[dict[str, Any]], positions: Mapping[str, tuple[float, float]],
                 with_graphml: bool) -> None:
    """network.gexf and (``with_graphml``) network.graphml from one :func:`gephi_table`."""
    plain = _plain_edges(analysis.graph)
    table = gephi_table(analysis, people, with_edges=plain is None)
    if plain is not None:
        table = GephiTable(table.nodes, [], table.node_types, dict(_PLAIN_EDGE_TYPES))
    write_gexf(analysis, written["network.gexf"], table, positions, plain_edges=plain)
    if with_graphml:
        write_graphml(analysis, written["network.graphml"], table, plain_edges=plain)


def write_outputs(
    analysis: Analysis,
    out_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    diff: Mapping[str, Any] | None = None,
    graphml: bool | None = None,
    kudos_values: Sequence[tuple[str, int]] | None = None,
    processes: int = 1,
) -> dict[str, Path]:
    """Write the output files of one analysis into ``out_dir`` (created if needed).

    ``metrics.json``, ``people.csv``, ``network.gexf``, ``network.graphml``, ``network.png``
    and ``report.html``. The result is turned into plain data once
    (:meth:`~analytics.results.AnalysisResult.to_dict`, which also cleans it) and the Gephi
    rows are built once (:func:`gephi_table`) for both GEXF and GraphML.

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
        When ``out_dir`` sits in a ``snapshots`` folder (as the bot's snapshots do), a small
        ``trend.json`` (aggregates only) is written beside the files, and the earlier
        snapshots' ones with the same window draw the report's trend charts.
    graphml : bool, optional
        Write ``network.graphml``: None (default) writes it up to :data:`GRAPHML_MAX_TIES`
        ties and leaves it out above (saying so through ``progress``); True or False force.
    kudos_values : sequence of (value, count), optional
        The kudos values given in the window, most given first, for the report (the bot
        passes them: ``ties.csv`` carries no values).

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
    ties = analysis.graph.number_of_edges()
    with_graphml = graphml if graphml is not None else ties <= GRAPHML_MAX_TIES
    names = [name for name in OUTPUT_FILES if with_graphml or name != "network.graphml"]
    written = {name: folder / name for name in names}
    parallel = processes > 1 and can_fork()
    waits: list[Callable[[], object]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        result = analysis.result.to_dict()  # plain and clean: the one cleaning pass
        positions = layout(analysis.graph, {p.id: p.community for p in analysis.result.people
                                            if p.community >= 0},
                           seed=analysis.result.options.seed,
                           arrays=getattr(analysis, "arrays", None))
        gephi_message = "writing GEXF and GraphML…" if with_graphml else "writing GEXF…"
        if parallel:
            # The Gephi files and the picture each in a second process, beside the rest.
            say(gephi_message)
            waits.append(in_child(_write_gephi, analysis, written, result["people"],
                                  positions, with_graphml))
            say("drawing network.png…")
            waits.append(in_child(draw_network, analysis, written["network.png"],
                                  positions=positions))

        written["metrics.json"].write_text(metrics_json(result), encoding="utf-8")
        _write_people_csv(written["people.csv"], result["people"])

        if not parallel:
            say(gephi_message)
            _write_gephi(analysis, written, result["people"], positions, with_graphml)
            say("drawing network.png…")
            draw_network(analysis, written["network.png"], positions=positions)
        if not with_graphml:
            say(f"network.graphml left out: {ties:,} ties is more than {GRAPHML_MAX_TIES:,} "
                "(network.gexf has the same graph; ask for GraphML to write it anyway)")

        say("writing report…")
        history = _snapshot_history(folder, analysis)
        picture_ready = waits[1] if parallel else None
        html = render_report(analysis, png_path=written["network.png"], diff=diff,
                             positions=positions, history=history, kudos_values=kudos_values,
                             before_png=picture_ready)
        written["report.html"].write_text(html, encoding="utf-8")
        if parallel:
            waits[0]()
    except OSError as exc:
        where = exc.filename or folder
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}") from exc
    except ChildFailed as exc:
        raise OutputError(f"cannot write {folder}: {exc}") from exc
    finally:
        for wait in waits:  # every child reaped, whatever happened here
            with contextlib.suppress(Exception):
                wait()
    return dict(sorted(written.items(), key=lambda item: OUTPUT_FILES.index(item[0])))
