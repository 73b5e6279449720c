"""Plain data that flows into and out of the analytics: ties, people, options, and the
:class:`Analysis` of one run (its typed result is in :mod:`analytics.results`).

Everything here is standard-library only so that the bot, the CLI and the tests can build
inputs without knowing how the analysis works inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:  # results.py imports AnalysisOptions from here
    from analytics._arrays import GraphArrays
    from analytics.results import AnalysisResult


@dataclass(frozen=True, slots=True)
class Tie:
    """One tie event: ``source`` named ``target`` (was helped by, recognised, asked ...)."""

    source: str
    target: str
    kind: str = ""
    weight: float = 1.0
    occurred_at: datetime | None = None
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    """One person. ``attrs`` keeps any extra column of ``people.csv``."""

    id: str
    name: str = ""
    team: str = ""
    manager: str = ""
    title: str = ""
    location: str = ""
    champion: bool = False
    joined_at: str = ""
    active: bool = True
    opted_out: bool = False
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """Knobs of one analysis run; every default is the documented product default."""

    window_days: float | None = 90.0
    half_life_days: float | None = 30.0
    kinds: frozenset[str] | None = None
    kind_weights: dict[str, float] = field(default_factory=dict)
    now: datetime | None = None
    min_group_size: int = 5
    champions_k: int = 5
    seed: int = 0
    diffusion_runs: int = 200
    diffusion_steps: int = 10


@dataclass(slots=True)
class Analysis:
    """One run: the analysed graph, its typed result and the roster of the people in it.

    ``result`` is read by attribute (``analysis.result.network.density``);
    ``result.to_dict()`` is the ``metrics.json`` document (:mod:`analytics.results`).
    ``arrays`` is the graph's array view (:class:`analytics._arrays.GraphArrays`) when the
    pipeline built it; anything computed later on the same graph reuses it.
    """

    graph: nx.DiGraph
    result: AnalysisResult
    people: dict[str, Person] = field(default_factory=dict)
    arrays: GraphArrays | None = None
