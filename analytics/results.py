"""The typed result of one analysis, read by attribute: ``analysis.result.network.density``.

Each class is a frozen dataclass whose fields are the keys of one block of ``metrics.json``
(design.md, "File formats"), in the order the file lists them. :meth:`AnalysisResult.to_dict`
is the ``metrics.json`` document itself and :meth:`AnalysisResult.from_dict` reads one back;
``from_dict`` refuses a missing or unknown key, so a key renamed in the pipeline fails loudly
instead of leaving a reader with None. ``metrics.json`` is a stable interface: renaming a
field here changes the file format.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from analytics.jsonready import json_ready
from analytics.model import AnalysisOptions

#: The warning every output file with room for it carries: metrics.json (its first key),
#: the report, the picture, GEXF and GraphML.
CONFIDENTIAL = "Confidential: named network data"

__all__ = [
    "CONFIDENTIAL",
    "AnalysisResult",
    "ChampionPicks",
    "CommunityFigures",
    "Coverage",
    "Diffusion",
    "InputReport",
    "NetworkFigures",
    "PersonResult",
    "Pick",
    "TeamFigures",
    "TeamMatrix",
    "options_dict",
    "options_from_dict",
]

T = TypeVar("T")


def options_dict(options: AnalysisOptions) -> dict[str, Any]:
    """The options of a run as plain JSON data (kinds sorted, ``now`` as ISO 8601).

    Examples
    --------
    >>> options_dict(AnalysisOptions())["window_days"]
    90.0
    """
    return {
        "window_days": options.window_days,
        "half_life_days": options.half_life_days,
        "kinds": None if options.kinds is None else sorted(options.kinds),
        "kind_weights": dict(sorted(options.kind_weights.items())),
        "now": None if options.now is None else options.now.isoformat(),
        "min_group_size": options.min_group_size,
        "champions_k": options.champions_k,
        "seed": options.seed,
        "diffusion_runs": options.diffusion_runs,
        "diffusion_steps": options.diffusion_steps,
    }


def options_from_dict(data: Mapping[str, Any]) -> AnalysisOptions:
    """The inverse of :func:`options_dict`.

    Examples
    --------
    >>> options = AnalysisOptions(kinds=frozenset({"advice"}))
    >>> options_from_dict(options_dict(options)) == options
    True
    """
    kinds, now = data["kinds"], data["now"]
    return _build(
        AnalysisOptions,
        data,
        kinds=None if kinds is None else frozenset(kinds),
        kind_weights=dict(data["kind_weights"]),
        now=None if now is None else datetime.fromisoformat(now),
    )


def _build(cls: type[T], data: Mapping[str, Any], **parsed: Any) -> T:
    # The constructor refuses missing and unknown keys: that is the point of typing the result.
    return cls(**{**data, **parsed})


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value: Any) -> Any:
    """Plain JSON data, cleaned on the way (the one place a result is cleaned for writing).

    Dataclasses become dicts (field order), tuples lists, options :func:`options_dict`;
    NaN and infinities become None and numpy scalars Python numbers, so a hand-built or
    edited result still gives strict JSON and no writer has to clean it again.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, AnalysisOptions):
        return options_dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if kind is tuple or kind is list:
        # rows of plain values (the team matrix: millions of ints and None at 100k people)
        # need nothing: one type check per item in C instead of a call per item
        if set(map(type, value)) <= _AS_IS:
            return list(value)
        return [_plain(item) for item in value]
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return json_ready(value)


# Values _plain returns as they are.
_AS_IS = frozenset({str, int, bool, type(None)})


class _Block:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """This block as it appears in ``metrics.json``: plain data, keys in field order."""
        plain: dict[str, Any] = _plain(self)
        return plain


@dataclass(frozen=True, slots=True)
class Coverage(_Block):
    """Share of people within one / two ties of any champion (None: group too small)."""

    one_step: float | None
    two_step: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Coverage:
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class InputReport(_Block):
    """What :func:`analytics.graph.build_graph` read, used and dropped, and why."""

    ties_read: int
    ties_used: int
    self_ties_dropped: int
    unknown_ids: tuple[str, ...]
    unknown_ties_dropped: int
    outside_window: int
    filtered_kind: int
    invalid_weight: int
    removed_people: int
    removed_ties_dropped: int
    window_end: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputReport:
        return _build(cls, data, unknown_ids=tuple(data["unknown_ids"]))


@dataclass(frozen=True, slots=True)
class NetworkFigures(_Block):
    """Headline figures of the whole network (:func:`analytics.network.network_figures`)."""

    people: int
    ties: int
    density: float | None
    reciprocity: float | None
    clustering: float | None
    components: int
    largest_component_share: float | None
    isolates: int
    communities: int
    modularity: float | None
    e_i_index: float | None
    champions: int
    champion_coverage: Coverage
    betweenness_method: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkFigures:
        return _build(cls, data, champion_coverage=Coverage.from_dict(data["champion_coverage"]))


@dataclass(frozen=True, slots=True)
class TeamFigures(_Block):
    """Figures of one formal team (:func:`analytics.network.team_figures`)."""

    team: str
    size: int
    e_i_index: float | None
    cross_team_share: float | None
    internal_ties: int | None
    external_ties: int | None
    champion_coverage: Coverage
    suppressed: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeamFigures:
        return _build(cls, data, champion_coverage=Coverage.from_dict(data["champion_coverage"]))


@dataclass(frozen=True, slots=True)
class TeamMatrix(_Block):
    """Directed ties from each team (row) to each team (column); None: a team is too small."""

    teams: tuple[str, ...]
    counts: tuple[tuple[int | None, ...], ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeamMatrix:
        return _build(
            cls,
            data,
            teams=tuple(data["teams"]),
            counts=tuple(tuple(row) for row in data["counts"]),
        )


@dataclass(frozen=True, slots=True)
class CommunityFigures(_Block):
    """Size and team make-up (team -> members; None when too small) of one community."""

    id: int
    size: int
    teams: Mapping[str, int] | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommunityFigures:
        return _build(cls, data)


@dataclass(frozen=True, slots=True)
class PersonResult(_Block):
    """One person's figures and roles (:func:`analytics.metrics.person_metrics`,
    :func:`analytics.roles.assign_roles`); ``community`` is -1 for nobody's."""

    id: str
    name: str
    team: str
    champion: bool
    community: int
    in_degree: int
    out_degree: int
    in_strength: float
    out_strength: float
    reciprocity: float | None
    betweenness: float | None
    pagerank: float | None
    constraint: float | None
    effective_size: float | None
    clustering: float | None
    two_step_reach: float | None
    cross_team_share: float | None
    roles: tuple[str, ...]

    @property
    def label(self) -> str:
        """The name to show: the person's name, else their id."""
        return self.name or self.id

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PersonResult:
        return _build(cls, data, roles=tuple(data["roles"]))


@dataclass(frozen=True, slots=True)
class Pick(_Block):
    """One set of champions and the share of people it reaches in one / two steps."""

    ids: tuple[str, ...]
    coverage_one_step: float
    coverage_two_step: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pick:
        return _build(cls, data, ids=tuple(data["ids"]))


@dataclass(frozen=True, slots=True)
class ChampionPicks(_Block):
    """Recommended champions beside top-degree, random and current picks
    (:func:`analytics.champions.compare_picks`); ``k`` is how many were asked for."""

    k: int
    recommended: Pick
    top_degree: Pick
    random: Pick
    current: Pick

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChampionPicks:
        picks = ("recommended", "top_degree", "random", "current")
        return _build(cls, data, **{key: Pick.from_dict(data[key]) for key in picks})


@dataclass(frozen=True, slots=True)
class Diffusion(_Block):
    """Adoption curves, model -> seed set -> share adopted after each step
    (:func:`analytics.diffusion.what_if`)."""

    steps: int
    runs: int
    p: float | None
    models: Mapping[str, Mapping[str, tuple[float, ...]]]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diffusion:
        models = {
            model: {name: tuple(curve) for name, curve in series.items()}
            for model, series in data["models"].items()
        }
        return _build(cls, data, models=models)


@dataclass(frozen=True, slots=True)
class AnalysisResult(_Block):
    """Everything one analysis found; :meth:`to_dict` is ``metrics.json``.

    ``people`` lists everyone in the analysed graph, sorted by id. ``roles`` maps each role
    to its people and ``role_rules`` each role to the rule that assigns it.

    Examples
    --------
    >>> from analytics.model import Tie
    >>> from analytics.pipeline import analyze
    >>> result = analyze([Tie("a", "b"), Tie("b", "a")]).result
    >>> result.network.ties, result.person("a").in_degree
    (2, 1)
    >>> AnalysisResult.from_dict(result.to_dict()) == result
    True
    """

    generated_at: str
    options: AnalysisOptions
    input: InputReport
    network: NetworkFigures
    teams: tuple[TeamFigures, ...]
    team_matrix: TeamMatrix
    communities: tuple[CommunityFigures, ...]
    people: tuple[PersonResult, ...]
    roles: Mapping[str, tuple[str, ...]]
    role_rules: Mapping[str, str]
    recommendation: ChampionPicks
    diffusion: Diffusion
    #: The file's own warning (older files without it read back with it).
    confidential: str = CONFIDENTIAL

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` document: plain JSON data, keys and order as in the file.

        This is the one way writers get the result as a dict (design.md, "File formats"),
        and it is already strict JSON (no NaN, no numpy numbers): writers do not clean it.
        The ``confidential`` warning comes first, where a person opening the file sees it.
        """
        plain: dict[str, Any] = _plain(self)
        return {"confidential": plain.pop("confidential"), **plain}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisResult:
        """Read a ``metrics.json`` document (the inverse of :meth:`to_dict`)."""
        return _build(
            cls,
            data,
            options=options_from_dict(data["options"]),
            input=InputReport.from_dict(data["input"]),
            network=NetworkFigures.from_dict(data["network"]),
            teams=tuple(TeamFigures.from_dict(row) for row in data["teams"]),
            team_matrix=TeamMatrix.from_dict(data["team_matrix"]),
            communities=tuple(CommunityFigures.from_dict(row) for row in data["communities"]),
            people=tuple(PersonResult.from_dict(row) for row in data["people"]),
            roles={role: tuple(ids) for role, ids in data["roles"].items()},
            role_rules=dict(data["role_rules"]),
            recommendation=ChampionPicks.from_dict(data["recommendation"]),
            diffusion=Diffusion.from_dict(data["diffusion"]),
        )

    def person(self, person_id: str) -> PersonResult:
        """The figures of one person; KeyError when they are not in the analysis."""
        for person in self.people:
            if person.id == person_id:
                return person
        raise KeyError(person_id)

    def names(self) -> dict[str, str]:
        """Person id -> the name to show (:attr:`PersonResult.label`)."""
        return {person.id: person.label for person in self.people}
