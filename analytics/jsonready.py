"""Plain JSON data out of analysis results (numpy scalars, NaN, sets, dates)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np

__all__ = ["json_ready"]


def json_ready(value: Any) -> Any:
    """Turn a result into plain JSON data: numpy scalars to numbers, NaN/inf to None.

    Tuples and sets become lists (sets sorted), datetimes ISO 8601 strings.

    Examples
    --------
    >>> json_ready({"a": float("nan"), "b": np.float64(0.5), "c": {2, 1}, "d": (np.int64(3),)})
    {'a': None, 'b': 0.5, 'c': [1, 2], 'd': [3]}
    """
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, set | frozenset):
        return [json_ready(v) for v in sorted(value, key=str)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    return value
