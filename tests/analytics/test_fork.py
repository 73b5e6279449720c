"""The second process: its result, its errors and the analysis it computes part of."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

import numpy as np
import pytest

from analytics._fork import ChildFailed, can_fork, in_child
from analytics.model import AnalysisOptions, Person, Tie
from analytics.pipeline import analyze

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork")


def _pid_and_sum(values: np.ndarray, *, offset: int) -> tuple[int, float]:
    return os.getpid(), float(values.sum()) + offset


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies() -> None:
    os._exit(3)


def test_the_work_runs_in_another_process_and_its_result_comes_back() -> None:
    wait = in_child(_pid_and_sum, np.arange(10.0), offset=5)
    pid, total = wait()
    assert pid != os.getpid()
    assert total == 50.0
    with pytest.raises(RuntimeError, match="already collected"):
        wait()


def test_an_error_in_the_child_is_raised_in_the_parent_with_its_type() -> None:
    with pytest.raises(ValueError, match="bad input 7"):
        in_child(_fails, "bad input 7")()


def test_a_child_that_dies_without_answering_is_reported() -> None:
    with pytest.raises(ChildFailed, match="without an answer"):
        in_child(_dies)()


def _network(people: int = 400, seed: int = 3) -> tuple[list[Tie], list[Person]]:
    rng = random.Random(seed)
    roster = [Person(f"P{i:04d}", name=f"Person {i}", team=f"t{i // 40}", champion=i % 97 == 0)
              for i in range(people)]
    ties = []
    for i in range(people):
        for _ in range(4):
            j = i // 40 * 40 + rng.randrange(40) if rng.random() < 0.8 else rng.randrange(people)
            ties.append(Tie(f"P{i:04d}", f"P{j:04d}", kind="helped"))
    return ties, roster


def test_analysis_with_betweenness_in_a_second_process_is_the_same() -> None:
    ties, people = _network()
    options = AnalysisOptions(now=datetime(2026, 1, 1, tzinfo=UTC))
    one = analyze(ties, people, options).result.to_dict()
    lines: list[str] = []
    two = analyze(ties, people, options, processes=2, progress=lines.append).result.to_dict()
    assert any("in a second process" in line for line in lines)
    one.pop("generated_at")
    two.pop("generated_at")
    assert two == one
    assert any(p["betweenness"] > 0 for p in two["people"])
