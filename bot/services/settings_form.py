"""Owners' settings form: turn what was typed into validated settings, or field errors.

Field names are the modal's block ids, so an error lands beside the input it concerns.
"""

from __future__ import annotations

from typing import Any

from bot.config import parse_cadence, parse_quiet_hours, parse_working_hours
from bot.services import Unit
from bot.services.network import require_owner
from bot.services.polls import QUESTIONS, parse_schedule
from bot.services.settings import ProgrammeSettings, update_settings


def _int(raw: str, lo: int, hi: int, what: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{what} must be a whole number") from None
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be between {lo} and {hi}")
    return value


def validate_form(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(changes, errors) from the modal's values; nothing is stored when errors is not empty.

    >>> changes, errors = validate_form({"analysis_window_days": "30", "min_group_size": "1"})
    >>> changes["analysis_window_days"], errors["min_group_size"]
    (30, 'minimum group size must be between 3 and 100')
    """
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def check(key: str, parse: Any) -> None:
        if key not in raw:
            return
        try:
            changes[key] = parse(raw[key])
        except ValueError as exc:
            errors[key] = str(exc)[:150]

    check("kudos_channel", lambda v: v or None)
    check("champion_channels", lambda v: tuple(v or ()))
    check("analysis_window_days", lambda v: _int(v, 7, 730, "the analysis window"))
    check("min_group_size", lambda v: _int(v, 3, 100, "minimum group size"))
    check("kudos_daily_cap", lambda v: _int(v, 1, 1000, "the daily kudos limit"))

    def sample(v: str) -> float:
        pct = _int(v.rstrip("% "), 1, 100, "the sample size (percent)")
        return pct / 100

    check("poll_sample_fraction", sample)

    def quiet(v: str) -> str:
        parse_quiet_hours(v)
        return v.strip() or "off"

    check("quiet_hours", quiet)

    def questions(v: list[str]) -> tuple[str, ...]:
        unknown = [q for q in v if q not in QUESTIONS]
        if unknown:
            raise ValueError(f"unknown question {unknown[0]}")
        return tuple(q for q in QUESTIONS if q in v)

    check("poll_questions", questions)

    def schedule(v: str) -> tuple[str, ...]:
        lines = tuple(line.strip() for line in v.splitlines() if line.strip())
        parse_schedule(lines)
        return lines

    check("poll_schedule", schedule)
    check("reaction_kudos", bool)

    def emoji(v: str) -> str:
        name = v.strip().strip(":")
        if not name or any(c.isspace() for c in name):
            raise ValueError("give one emoji name, like clap")
        return name

    check("reaction_emoji", emoji)

    def cadence(v: str) -> str:
        parse_cadence(v)
        return " ".join(v.split()).lower() or "off"

    check("digest_schedule", cadence)
    check("nudge_schedule", cadence)

    def working(v: str) -> str:
        parse_working_hours(v)
        return " ".join(v.split()).lower() or "off"

    check("working_hours", working)

    def holdout(v: str) -> float:
        return _int(v.rstrip("% "), 0, 50, "the holdout share (percent)") / 100

    check("nudge_holdout", holdout)
    if not errors and changes.get("poll_questions") and "poll_schedule" in changes:
        missing = set(changes["poll_questions"]) - set(parse_schedule(changes["poll_schedule"]))
        if missing:
            errors["poll_schedule"] = f"add a time for {', '.join(sorted(missing))}"
    return changes, errors


def current_settings(uow: Unit, requester: str) -> ProgrammeSettings:
    require_owner(uow, requester)
    return uow.prefs


def save_settings(uow: Unit, requester: str, raw: dict[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate and store; returns (what changed, field errors). Owners only."""
    require_owner(uow, requester)
    changes, errors = validate_form(raw)
    if errors:
        return {}, errors
    return update_settings(uow.session, uow.workspace.id, requester, changes), {}
