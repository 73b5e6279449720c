"""The figures a snapshot keeps for trends: ties, participation, reach, cross-team share and
kudos, one small point per snapshot (written beside it as ``trend.json``, read back by the
next report to draw the trend charts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from analytics.privacy import suppress
from analytics.results import AnalysisResult

__all__ = ["TREND_SERIES", "TrendPoint", "kudos_figures", "trend_point"]

#: key -> (title, "count" or "share"): the charts of the report's Trends section.
TREND_SERIES: dict[str, tuple[str, str]] = {
    "ties": ("Ties", "count"),
    "participation": ("Participation (people who named anyone)", "share"),
    "reach_two": ("Champion reach, two steps", "share"),
    "cross_team_share": ("Cross-team share of ties", "share"),
    "kudos": ("Kudos ties", "count"),
    "kudos_cross_team": ("Kudos across teams", "share"),
}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One snapshot's trend figures (None: not defined, or the group is too small)."""

    at: str
    window_days: float | None
    people: int
    ties: int
    participation: float | None
    reach_two: float | None
    cross_team_share: float | None
    kudos: int
    kudos_cross_team: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrendPoint:
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: data.get(k) for k in names}
        return cls(**values)


def kudos_figures(G: nx.DiGraph) -> tuple[int, float | None]:
    """Kudos ties (``recognised``) and the share of them between two different known teams.

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([("a", {"team": "x"}), ("b", {"team": "y"}), ("c", {"team": "x"})])
    >>> G.add_edges_from([("a", "b", {"kinds": "recognised"}), ("a", "c", {"kinds": "helped"}),
    ...                   ("c", "a", {"kinds": "advice,recognised"})])
    >>> kudos_figures(G)
    (2, 0.5)
    """
    team = dict(G.nodes(data="team", default=""))
    total = known = across = 0
    for a, b, kinds in G.edges(data="kinds", default=""):
        if a == b or "recognised" not in str(kinds or "").split(","):
            continue
        total += 1
        ta, tb = team.get(a) or "", team.get(b) or ""
        if ta and tb:
            known += 1
            across += int(ta != tb)
    return total, (across / known if known else None)


def trend_point(result: AnalysisResult, G: nx.DiGraph) -> TrendPoint:
    """The trend figures of one analysis.

    ``participation`` is the share of people who named anyone; ``cross_team_share`` is
    ``(E-I index + 1) / 2``, the share of ties between two teams; shares describe the whole
    network, so they are None under the minimum group size, like every group figure.

    Examples
    --------
    >>> from analytics.model import Person, Tie
    >>> from analytics.pipeline import analyze
    >>> people = [Person(p, team="x" if p < "d" else "y") for p in "abcdef"]
    >>> a = analyze([Tie("a", "b"), Tie("a", "d", kind="recognised")], people)
    >>> p = trend_point(a.result, a.graph)
    >>> p.ties, round(p.participation, 3), p.cross_team_share, p.kudos, p.kudos_cross_team
    (2, 0.167, 0.5, 1, 1.0)
    """
    network = result.network
    people = network.people
    answered = sum(1 for p in result.people if p.out_degree > 0)
    e_i = network.e_i_index
    kudos, kudos_across = kudos_figures(G)
    min_size = result.options.min_group_size
    return TrendPoint(
        at=result.input.window_end or result.generated_at,
        window_days=result.options.window_days,
        people=people,
        ties=network.ties,
        participation=suppress(answered / people if people else None, people, min_size),
        reach_two=network.champion_coverage.two_step,
        cross_team_share=None if e_i is None else (e_i + 1.0) / 2.0,
        kudos=kudos,
        kudos_cross_team=suppress(kudos_across, people, min_size),
    )
