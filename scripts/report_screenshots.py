"""Screenshots of a report in a real headless Chromium, at phone (390 px) and desktop
(1400 px) widths, for docs/screenshots/.

    .venv/bin/python scripts/report_screenshots.py demo-output/snapshots/*/report.html OUT
    .venv/bin/python scripts/report_screenshots.py --from-export demo-output docs/screenshots

``--from-export DIR`` rebuilds the report from the demo's export (``ties.csv``,
``people.csv``) as four snapshots taken as the ties came in (a quarter more each time), so
the trend charts have points; the demo itself takes one snapshot.

Writes report-phone.png and report-desktop.png (the first screen: summary and what to do
next), report-phone-map.png and report-desktop-map.png (the interactive map, with a search
for ``--search`` typed in) and report-desktop-teams.png (the team heat map). Needs Debian's
chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser import Browser, Page

SIZES = {"phone": (390, 844, True), "desktop": (1400, 900, False)}


def scroll_to(page: Page, element_id: str) -> None:
    page.evaluate(f"document.getElementById({json.dumps(element_id)}).scrollIntoView(); "
                  "window.scrollBy(0, -34); true")
    time.sleep(0.5)


def snapshots_from_export(folder: Path, snapshots: Path) -> Path:
    """Four snapshots of the export, each with a quarter more of its tie events; the last
    snapshot's report.html."""
    import shutil

    from analytics.model import AnalysisOptions
    from analytics.pipeline import analyze
    from analytics.report.io import read_people, read_ties
    from analytics.report.outputs import write_outputs

    ties = sorted(read_ties(folder / "ties.csv"), key=lambda t: (t.occurred_at is None,
                                                                   t.occurred_at))
    people = read_people(folder / "people.csv")
    shutil.rmtree(snapshots, ignore_errors=True)
    last = snapshots
    for step in range(1, 5):
        part = ties[: len(ties) * step // 4]
        options = AnalysisOptions(window_days=None, half_life_days=None)
        analysis = analyze(part, people, options)
        last = snapshots / f"2026010{step}T090000Z-alld"
        write_outputs(analysis, last)
    return last / "report.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.html, or with --from-export the "
                        "folder holding ties.csv and people.csv")
    parser.add_argument("out", type=Path)
    parser.add_argument("--search", default="naomi")
    parser.add_argument("--from-export", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.from_export:
        args.report = snapshots_from_export(args.report, args.out / "snapshots")
    with Browser() as browser:
        for name, (width, height, mobile) in SIZES.items():
            page = browser.open(args.report.resolve().as_uri(), width=width, height=height,
                                mobile=mobile)
            page.until("document.getElementById('map').getAttribute('data-ready')")
            page.screenshot(args.out / f"report-{name}.png")
            page.evaluate("const s = document.getElementById('map-search'); "
                          f"s.value = {json.dumps(args.search)}; "
                          "s.dispatchEvent(new Event('input')); true")
            time.sleep(0.6)
            scroll_to(page, "map-section")
            page.screenshot(args.out / f"report-{name}-map.png")
            if name == "desktop":
                scroll_to(page, "teams")
                page.screenshot(args.out / f"report-{name}-teams.png")
            if page.errors:
                print(f"{name}: errors in the page: {page.errors}", file=sys.stderr)
                return 1
    print(f"screenshots written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
