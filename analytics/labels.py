"""How a person is shown to a programme owner: full name and team, never an ambiguous name.

In a real organisation many people share a first name (in the demo, 130 of 152), and even a
full name can repeat. :func:`person_labels` gives every person one label that nobody else
has, by a written rule, so the report, the picture and the files always point at one
person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from analytics.model import Analysis

__all__ = ["LABEL_RULE", "Who", "analysis_labels", "person_labels"]

LABEL_RULE = (
    "People are shown by full name and team, e.g. \"Ana Silva (Sales)\". Two people with the "
    "same name in the same team also show their job title, and if that is the same too, "
    "their id."
)


@dataclass(frozen=True, slots=True)
class Who:
    """What a label is made of: id, name (full name when known), team, title."""

    id: str
    name: str = ""
    team: str = ""
    title: str = ""


def _clean(text: str) -> str:
    # Control characters have no glyph and line breaks would split a label.
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


def person_labels(people: Iterable[Who]) -> dict[str, str]:
    """One unique label per person: ``Name (Team)``, disambiguated when it repeats.

    Rule (:data:`LABEL_RULE`): ``name (team)``; without a team just the name; without a
    name the id. When two or more people would get the same label, each adds their job
    title (``name (team, title)``) and, if that still repeats or there is no title, their
    id (``name (team, id)``). The id is unique, so the result always is.

    Examples
    --------
    >>> labels = person_labels([Who("U1", "Ana Silva", "Sales"), Who("U2", "Ana Silva", "Data"),
    ...                         Who("U3", "Joao", "Data", "Engineer"), Who("U4", "Joao", "Data"),
    ...                         Who("U5", "", "Data"), Who("U6", "Noor")])
    >>> [labels[f"U{i}"] for i in range(1, 4)]
    ['Ana Silva (Sales)', 'Ana Silva (Data)', 'Joao (Data, Engineer)']
    >>> [labels[f"U{i}"] for i in range(4, 7)]
    ['Joao (Data, U4)', 'U5 (Data)', 'Noor']
    """
    people = [Who(w.id, _clean(w.name), _clean(w.team), _clean(w.title)) for w in people]

    def base(who: Who, extra: str = "") -> str:
        name = who.name or who.id
        inside = ", ".join(part for part in (who.team, extra) if part)
        return f"{name} ({inside})" if inside else name

    first = {who.id: base(who) for who in people}
    repeats = Counter(first.values())
    labels: dict[str, str] = {}
    second: dict[str, str] = {}
    for who in people:
        if repeats[first[who.id]] == 1:
            labels[who.id] = first[who.id]
        elif who.title:
            second[who.id] = base(who, who.title)
        else:
            second[who.id] = base(who, who.id)
    repeats_second = Counter([*second.values(), *labels.values()])
    for who in people:
        if who.id in labels:
            continue
        label = second[who.id]
        labels[who.id] = label if repeats_second[label] == 1 else base(who, who.id)
    # An id-suffixed label could, in theory, equal someone's plain label; the id wins then.
    final = Counter(labels.values())
    for who in people:
        if final[labels[who.id]] > 1 and not labels[who.id].endswith(f"{who.id})"):
            labels[who.id] = base(who, who.id) if labels[who.id] != who.id else who.id
    return labels


def analysis_labels(analysis: Analysis) -> dict[str, str]:
    """:func:`person_labels` for everyone in one analysis (roster first, then the graph).

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> a = analyze([Tie("a", "b")], [Person("a", name="Ana", team="X"), Person("b", name="Ana",
    ...                                                                         team="X")])
    >>> analysis_labels(a)
    {'a': 'Ana (X, a)', 'b': 'Ana (X, b)'}
    """
    people = []
    for node, data in analysis.graph.nodes(data=True):
        person = analysis.people.get(node)
        people.append(Who(
            id=str(node),
            name=(person.name if person is not None else "") or str(data.get("name") or ""),
            team=(person.team if person is not None else "") or str(data.get("team") or ""),
            title=(person.title if person is not None else "") or str(data.get("title") or ""),
        ))
    return person_labels(sorted(people, key=lambda who: who.id))
