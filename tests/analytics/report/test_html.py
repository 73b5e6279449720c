"""render_report: self-contained, offline, every figure present, all user text escaped."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from analytics.model import Analysis
from analytics.pipeline import analyze
from analytics.report.draw import draw_network
from analytics.report.html import render_report

Factory = Callable[..., Analysis]
LIBRARY = (Path(__file__).parents[3] / "analytics/report/static/cytoscape.min.js").read_text()


def own_part(html: str) -> str:
    """The page without the vendored Cytoscape.js (whose licence comment names URLs); the
    library must be inlined exactly as vendored."""
    inlined = LIBRARY.replace("</script", "<\\/script")
    assert html.count(inlined) == 1
    return html.replace(inlined, "")


class _Collector(HTMLParser):
    """Collects tags and attributes to check that nothing is fetched from outside."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags


def test_hostile_names_teams_and_ids_are_escaped(analysis_factory: Factory) -> None:
    html = own_part(render_report(analysis_factory()))
    # only our three scripts: the map's JSON, the library, the map's code
    assert html.count("<script") == 3 and "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # inside the map's JSON no name can close the script or open markup
    data = html.split('id="map-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data and "\\u003cscript\\u003e" in data
    assert "<!channel>" not in html
    assert "&lt;!channel&gt; Bob &amp; co" in html
    assert "<b>lab</b>" not in html and "R&amp;D &lt;b&gt;lab&lt;/b&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert not [tag for tag, _ in _tags(html) if tag in {"b", "iframe"}]
    scripts = [attrs for tag, attrs in _tags(html) if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "map-data"}, {}, {}]


def test_report_is_self_contained(tmp_path: Path, analysis_factory: Factory) -> None:
    analysis = analysis_factory()
    png = tmp_path / "network.png"
    draw_network(analysis, png)
    html = own_part(render_report(analysis, png_path=png))
    assert not re.search(r"(https?:)?//[\w.-]+\.\w", html)
    for tag, attrs in _tags(html):
        assert tag not in {"link", "iframe"}
        assert not (tag == "script" and "src" in attrs)
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, value)
    images = [attrs["src"] for tag, attrs in _tags(html) if tag == "img"]
    assert len(images) == 1
    prefix = "data:image/png;base64,"
    assert images[0] is not None and images[0].startswith(prefix)
    assert base64.b64decode(images[0][len(prefix) :]) == png.read_bytes()


def test_headline_figures_roles_and_sections(analysis_factory: Factory) -> None:
    analysis = analysis_factory()
    html = render_report(analysis)
    network = analysis.result.network
    assert f">{network.people}<" in html
    assert f">{network.ties}<" in html
    assert "0.412" in html  # modularity
    assert "-0.52" in html  # E-I index
    assert "43.2%" in html  # reciprocity
    assert "80%" in html  # champion two-step reach
    for rule in analysis.result.role_rules.values():
        assert rule in html
    for section in ("summary", "trust", "map-section", "kinds", "figures", "picture", "roles",
                    "teams", "champions", "trends", "whatif", "input"):
        assert f'id="{section}"' in html
    # two what-if charts with two curves each, one trend chart per defined series
    assert html.count("<polyline") >= 4 and 'id="whatif"' in html
    assert "Self-ties dropped" in html and "U99" in html


def test_suppressed_team_cells_show_a_dash_and_a_note(analysis_factory: Factory) -> None:
    html = render_report(analysis_factory())
    # Ops has 3 people: its matrix row and column are suppressed.
    assert '<td class="sup">—</td>' in html
    assert "fewer than 5 people" in html
    assert "minimum group size" in html


def test_snapshot_diff_section(analysis_factory: Factory) -> None:
    diff = {
        "new_ties": [["U00", "U01"], ["U01", "U02"]],
        "lost_ties": [["U03", "U04"]],
        "rising": ["U07"],
        "fading": [],
        "coverage_change": {"one_step": 0.05, "two_step": -0.1},
        "teams_connected": [["Sales", "R&D <b>lab</b>"]],
        "teams_cut_off": [],
    }
    html = render_report(analysis_factory(), diff=diff)
    assert 'id="changes"' in html
    assert "+5.0 points" in html and "-10.0 points" in html
    assert "&lt;!channel&gt; Bob &amp; co" in html
    assert "Sales ↔ R&amp;D &lt;b&gt;lab&lt;/b&gt;" in html


def test_an_empty_analysis_renders() -> None:
    html = render_report(analyze([]))
    assert "PeerPulse network report" in html and "No people to show." in html


def test_community_breakdown_never_shows_a_small_group() -> None:
    # issue 10 item 14: the report showed "Tiny Team: 3" and "People & Culture: 1".
    from analytics.model import Person, Tie

    people = [Person(f"s{i}", team="Sales") for i in range(8)]
    people += [Person(f"t{i}", team="Tiny Team") for i in range(3)]
    people += [Person("hr", team="People & Culture")]
    ids = [p.id for p in people]
    ties = [Tie(a, b) for a in ids for b in ids if a != b]  # one tight community of 12
    html = render_report(analyze(ties, people))
    assert re.search(r"Tiny Team:\s*3", html) is None
    assert re.search(r"People &amp; Culture:\s*1", html) is None
    assert re.search(r"Sales:\s*8", html) is not None


def _org() -> Analysis:
    from analytics.model import Person, Tie

    people = [Person(f"s{i}", name="Ana Silva", team="Sales",
                     champion=i == 0) for i in range(8)]
    people += [Person(f"d{i}", name=f"Dee {i}", team="Data") for i in range(8)]
    people += [Person("lone", name="Lou Lone", team="Data")]
    ties = [Tie(f"s{i}", f"s{j}") for i in range(8) for j in range(8) if i != j]
    ties += [Tie(f"d{i}", f"d{(i + 1) % 8}") for i in range(8)] + [Tie("s0", "d0")]
    ties += [Tie(f"d{i}", f"s{i}") for i in range(8)]
    return analyze(ties, people)


def test_first_screen_says_what_to_do_with_evidence_one_click_away() -> None:
    html = render_report(_org())
    summary = html.index('id="summary"')
    actions = re.findall(r'<li class="[^"]*" id="action-([a-z_]+)">', html)
    assert 3 <= len(actions) <= 5 and "silo" in actions and "left_out" in actions
    assert html.index("What to do next") - summary < 5000  # right after the summary
    ids = set(re.findall(r'id="([^"]+)"', html))
    for target in re.findall(r'<a href="#([^"]+)">See the evidence</a>', html):
        assert target in ids, target
    assert "Connect the Sales team" in html and "Lou Lone (Data)" in html


def test_every_figure_has_its_meaning_and_roles_are_in_words() -> None:
    from analytics.report.html import MEANINGS

    html = render_report(_org())
    for meaning in MEANINGS.values():
        assert meaning.replace("'", "&#39;").replace("&", "&amp;").replace(
            "&amp;#39;", "&#39;") in html, meaning
    assert "central_connector" not in html.split("<script")[0]  # words, not identifiers
    assert "Central connectors" in html and "Isolated people" in html


def test_people_are_unambiguous_in_the_report() -> None:
    html = render_report(_org())
    # eight people named "Ana Silva" in Sales: each label is different
    labels = set(re.findall(r"Ana Silva \(Sales, s\d\)", html))
    assert len(labels) == 8


def test_team_matrix_is_a_heat_map_with_silo_flags() -> None:
    html = render_report(_org())
    cells = re.findall(r'<td class="n[^"]*" style="background: (#[0-9a-f]{6})"', html)
    assert len(cells) == 4 and len(set(cells)) > 1
    assert '<span class="flag">siloed</span>' in html
    assert "Inside<small>share of row</small>" in html


def test_counts_in_the_report_leave_isolated_people_apart() -> None:
    html = render_report(_org())
    assert "1 person has no tie at all" in html
    assert "isolated: no tie (1 person)" in html  # the map's legend, from its JSON data


def test_a_first_comparison_says_there_is_nothing_to_compare_yet() -> None:
    from analytics.diff import diff_snapshots
    from analytics.model import Person, Tie

    people = [Person(f"{t}{i}", team=t) for t in "xy" for i in range(5)]
    after = analyze([Tie("x0", "y0"), Tie("x1", "y1")], people)
    html = render_report(after, diff=diff_snapshots(analyze([], people), after))
    changes = html.split('id="changes"', 1)[1].split("</section>", 1)[0]
    assert "Nothing to compare yet" in changes and "Teams newly connected" not in changes


def test_heat_map_of_many_teams_shows_the_largest_and_says_so() -> None:
    from analytics.model import Person, Tie

    people = [Person(f"t{t:02d}p{i}", team=f"Team {t:02d}") for t in range(45)
              for i in range(5 + (t % 3))]
    ties = [Tie(a.id, b.id) for a, b in itertools.pairwise(people)]
    html = render_report(analyze(ties, people))
    heat = html.split('class="heat"', 1)[1].split("</table>", 1)[0]
    assert heat.count('class="n rot"') == 40
    assert "5 smaller teams are in metrics.json" in html
