"""bench/analytics_scale.py keeps working: its owners' part on a small network answers a
question after a new tie from the cached analysis and then from the refreshed one, and its
`/network snapshot` through the real bot finds every file uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services.analysis_cache import analyses
from bot.services.network import SNAPSHOT_FILES
from tests.benches import load_bench


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    load_bench("analytics_scale").write_inputs(400, folder)
    return folder


def test_owners_part_answers_from_the_cache_then_the_refreshed_analysis(
        inputs: Path, tmp_path: Path) -> None:
    try:
        out = load_bench("analytics_scale").owners_worker(inputs, tmp_path)
    finally:
        analyses.clear()
    # the snapshot's analysis, then one refresh behind the new tie: nothing else computed
    assert out["analyses_computed"] == 2
    assert out["refresh_landed_s"] >= out["person_after_new_tie_s"] > 0
    assert {"person_s", "champions_s", "compare_s", "person_refreshed_s"} <= set(out)


@pytest.mark.slow
def test_snapshot_through_the_real_bot_delivers_every_file(inputs: Path, tmp_path: Path
                                                           ) -> None:
    out = load_bench("analytics_scale").snapshot_worker(inputs, tmp_path)
    assert out["snapshot_e2e_s"] >= out["snapshot_ack_s"] > 0
    assert out["snapshot_bytes"] > 0 and len(SNAPSHOT_FILES) == 4
