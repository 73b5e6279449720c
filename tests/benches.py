"""The scripts in ``bench/`` loaded as modules, for the tests that keep them working."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def bench_path(name: str) -> Path:
    """``bench/<name>.py``."""
    return BENCH_DIR / f"{name}.py"


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` as the module ``name``, loaded once (registered in
    ``sys.modules`` first: dataclasses look their module up while it loads)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, bench_path(name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
