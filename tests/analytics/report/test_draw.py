"""draw_network: a valid PNG, deterministic, a community map (not a hairball) when large."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import matplotlib.image as mpimg
import networkx as nx
import pytest

from analytics.model import Analysis, Tie
from analytics.pipeline import analyze
from analytics.report import draw
from analytics.report.draw import community_of, draw_network

Factory = Callable[..., Analysis]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# A result that names nobody, for tests of what is drawn from the graph alone.
NOBODY = analyze([]).result


def _png_shape(path: Path) -> tuple[int, ...]:
    assert path.read_bytes()[:8] == PNG_MAGIC
    return tuple(mpimg.imread(path).shape)


def test_small_network_is_drawn_person_by_person(tmp_path: Path, analysis_factory: Factory) -> None:
    path = tmp_path / "network.png"
    assert draw_network(analysis_factory(), path) == "full"
    height, width, _channels = _png_shape(path)
    assert width >= 1000 and height >= 800


def test_same_seed_same_picture(tmp_path: Path, analysis_factory: Factory) -> None:
    digests = set()
    for name in ("a.png", "b.png"):
        draw_network(analysis_factory(), tmp_path / name, seed=3)
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1


def test_large_network_becomes_a_community_map(
    tmp_path: Path, analysis_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = analysis_factory(size=600)
    laid_out: list[int] = []
    real_layout = nx.spring_layout

    def spy(graph: nx.Graph, *args: object, **kwargs: object) -> dict:
        laid_out.append(graph.number_of_nodes())
        return real_layout(graph, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(draw.nx, "spring_layout", spy)
    path = tmp_path / "map.png"
    assert draw_network(analysis, path, max_nodes_full=100) == "community_map"
    _png_shape(path)
    # Only communities are laid out, never the 600 people.
    assert laid_out and max(laid_out) <= draw.MAP_COMMUNITIES


@pytest.mark.slow
def test_community_map_of_100k_people_is_fast(tmp_path: Path) -> None:
    # A ring of 100k people in 1,000 communities: only the drawing is timed.
    n = 100_000
    graph = nx.DiGraph()
    graph.add_nodes_from(
        (f"p{i}", {"community": i // 100, "champion": i % 5000 == 0}) for i in range(n)
    )
    graph.add_edges_from((f"p{i}", f"p{(i + 1) % n}", {"weight": 1.0}) for i in range(n))
    started = time.perf_counter()
    assert draw_network(Analysis(graph, NOBODY), tmp_path / "big.png") == "community_map"
    assert time.perf_counter() - started < 20
    _png_shape(tmp_path / "big.png")


def test_empty_network_draws_a_placeholder(tmp_path: Path) -> None:
    assert draw_network(analyze([]), tmp_path / "empty.png") == "empty"
    _png_shape(tmp_path / "empty.png")


def test_dollar_signs_and_markup_in_names_do_not_break_drawing(tmp_path: Path) -> None:
    graph = nx.DiGraph([("a", "b")])
    graph.nodes["a"]["name"] = "$\\frac{1}{0}$ <b>"
    graph.nodes["b"]["name"] = "x_1^2 $"
    assert draw_network(Analysis(graph, NOBODY), tmp_path / "n.png") == "full"


def test_community_of_prefers_result_then_node_attribute() -> None:
    analysis = analyze([Tie("a", "b"), Tie("b", "c")])
    a, b, _c = analysis.result.people
    result = replace(analysis.result, people=(replace(a, community=1), replace(b, community=-1)))
    analysis.graph.nodes["c"]["community"] = 4
    # -1 (an isolate, in no community) is drawn grey like an unknown community
    assert community_of(Analysis(analysis.graph, result)) == {"a": 1, "b": None, "c": 4}


def _crowded() -> Analysis:
    """60 people, first names repeating across teams, three champions, four isolated."""
    from analytics.model import Person

    first = ["Ana", "Joao", "Naomi"]
    teams = ["Sales", "Data", "Mobile", "Payments"]
    people = [Person(f"U{i:02d}", name=f"{first[i % 3]} Lee", team=teams[i % 4],
                     champion=i in (0, 7, 30)) for i in range(60)]
    import random

    rng = random.Random(4)
    ties = [Tie(f"U{rng.randrange(56):02d}", f"U{rng.randrange(12):02d}") for _ in range(160)]
    ties += [Tie(f"U{i:02d}", f"U{i + 1:02d}") for i in range(55)]
    return analyze(ties, people)


def test_labels_never_overlap_and_champions_are_always_labelled() -> None:
    analysis = _crowded()
    drawn = draw.picture(analysis)
    boxes = [box for _, box in drawn.labels]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    texts = [text for text, _ in drawn.labels]
    from analytics.labels import analysis_labels

    labels = analysis_labels(analysis)
    for person in (p for p in analysis.result.people if p.champion):
        # full name on the first line, team (and what tells namesakes apart) on the second
        name, rest = draw.split_label(labels[person.id])
        assert name == person.name and rest.startswith(person.team)
        assert f"{name}\n{rest}" in texts
    assert len(texts) >= 8


def test_legend_explains_every_colour_drawn() -> None:
    analysis = _crowded()
    for colour_by in ("community", "team"):
        drawn = draw.picture(analysis, colour_by=colour_by)
        legend_colours = {colour for _, colour in drawn.legend}
        assert drawn.colours <= legend_colours, colour_by
        assert any(text == "isolated: no tie (4 people)" for text, _ in drawn.legend)
    teams = [text for text, _ in draw.picture(analysis, colour_by="team").legend]
    isolated = set(analysis.result.roles["isolate"])
    sizes = {t: sum(1 for p in analysis.result.people if p.team == t and p.id not in isolated)
             for t in ("Data", "Mobile", "Payments", "Sales")}
    expected = sorted(sizes, key=lambda t: (-sizes[t], t))
    assert teams[:4] == [f"{t} ({sizes[t]} people)" for t in expected]


def test_no_empty_band_around_the_drawing(tmp_path: Path) -> None:
    path = tmp_path / "network.png"
    draw_network(_crowded(), path)
    image = mpimg.imread(path)
    ink = (image[:, :, :3].min(axis=2) < 0.95)
    rows = ink.any(axis=1).nonzero()[0]
    # drawn content reaches within 6% of the top and the bottom of the picture
    assert rows[0] < 0.06 * image.shape[0] and rows[-1] > 0.94 * image.shape[0]
    blank_run = max((len(list(g)) for k, g in itertools.groupby(ink.any(axis=1)) if not k),
                    default=0)
    assert blank_run < 0.12 * image.shape[0]


def test_picture_carries_alt_text_and_the_confidential_mark(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "network.png"
    draw_network(_crowded(), path)
    text = Image.open(path).text  # type: ignore[attr-defined]
    assert "Network picture of 60 people" in text["Description"]
    assert "confidential" in text["Title"].lower()
