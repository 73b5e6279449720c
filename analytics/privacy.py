"""Small-group protection: the one place that decides whether a group figure may be shown.

Every group-level figure (per team, per community, per team pair, per snapshot team) goes
through :func:`suppress`, so the threshold is defined once and a test can prove it everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

__all__ = ["MIN_GROUP_SIZE", "is_suppressed", "suppress", "suppress_mapping"]

#: Product default from design.md ("no group figure for a group smaller than 5 people").
MIN_GROUP_SIZE = 5

T = TypeVar("T")
K = TypeVar("K")


def is_suppressed(group_size: int, min_size: int = MIN_GROUP_SIZE) -> bool:
    """Return True when a group of ``group_size`` people is too small to report on.

    Parameters
    ----------
    group_size : int
        Number of people the figure is computed over.
    min_size : int, optional
        Smallest group whose figures may be shown (default :data:`MIN_GROUP_SIZE`).
        Values below 1 are treated as 1, so an empty group is always suppressed.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_suppressed(4), is_suppressed(5)
    (True, False)
    >>> is_suppressed(0, min_size=0)
    True
    """
    return int(group_size) < max(1, int(min_size))


def suppress(value: T, group_size: int, min_size: int = MIN_GROUP_SIZE) -> T | None:
    """Return ``value``, or None when it was computed over fewer than ``min_size`` people.

    This is the ONE helper every group-level figure goes through. A group of zero people is
    always suppressed (there is nothing to report and nothing to protect).

    Parameters
    ----------
    value : object
        The figure (number, dict, list ...) computed over the group.
    group_size : int
        Number of people in the group.
    min_size : int, optional
        Smallest group whose figures may be shown, default 5 (design.md, Privacy defaults).

    Returns
    -------
    value or None

    Examples
    --------
    >>> suppress(0.42, group_size=4) is None
    True
    >>> suppress(0.42, group_size=5)
    0.42
    >>> suppress({"a": 1}, group_size=3, min_size=3)
    {'a': 1}
    """
    if is_suppressed(group_size, min_size):
        return None
    return value


def suppress_mapping(
    values: Mapping[K, T],
    sizes: Mapping[K, int] | Callable[[K], int],
    min_size: int = MIN_GROUP_SIZE,
) -> dict[K, T | None]:
    """Apply :func:`suppress` to every entry of a group -> figure mapping.

    Parameters
    ----------
    values : mapping
        Group key -> figure.
    sizes : mapping or callable
        Group key -> group size (a key missing from a mapping counts as size 0, so it is
        suppressed).
    min_size : int, optional
        Smallest group whose figures may be shown (default 5).

    Returns
    -------
    dict
        Same keys, figures replaced by None for small groups.

    Examples
    --------
    >>> suppress_mapping({"small": 0.5, "big": 0.7}, {"small": 4, "big": 5})
    {'small': None, 'big': 0.7}
    """
    size_of: Callable[[K], int]
    if callable(sizes):
        size_of = sizes
    else:
        mapping = sizes

        def size_of(key: K) -> int:
            return mapping.get(key, 0)

    return {key: suppress(value, size_of(key), min_size) for key, value in values.items()}
