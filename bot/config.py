"""Settings: the one place that reads the environment (and `.env`).

Every other module receives a frozen `Settings` object; nothing else looks at `os.environ`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SLACK_DEFAULT_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which one and how to fix it."""


HOW_TO_GET = {
    "SLACK_BOT_TOKEN": (
        "create the app from manifest.yml at api.slack.com/apps, install it to your workspace, "
        "and copy the Bot User OAuth Token (xoxb-...) into .env as SLACK_BOT_TOKEN=..."
    ),
    "SLACK_SIGNING_SECRET": (
        "copy the Signing Secret from your app's Basic Information page into .env as "
        "SLACK_SIGNING_SECRET=... (or set SLACK_APP_TOKEN to use Socket Mode instead)"
    ),
    "SLACK_CLIENT_SECRET": (
        "copy the Client Secret from your app's Basic Information page into .env as "
        "SLACK_CLIENT_SECRET=... (with SLACK_CLIENT_ID, for installs through /slack/install)"
    ),
    "SLACK_CLIENT_ID": (
        "copy the Client ID from your app's Basic Information page into .env as "
        "SLACK_CLIENT_ID=... (with SLACK_CLIENT_SECRET, for installs through /slack/install)"
    ),
    "SLACK_APP_TOKEN": (
        "create an app-level token with the connections:write scope on your app's Basic "
        "Information page and put it in .env as SLACK_APP_TOKEN=xapp-..."
    ),
}


def parse_quiet_hours(value: str) -> tuple[int, int] | None:
    """``"20-8"`` → (20, 8): no DMs from 20:00 to 08:00; ``""`` or ``"off"`` → None.

    >>> parse_quiet_hours("20-8"), parse_quiet_hours("off")
    ((20, 8), None)
    """
    value = value.strip().lower()
    if value in ("", "off", "none"):
        return None
    try:
        start, end = (int(part) for part in value.split("-"))
    except ValueError:
        raise ValueError("quiet hours look like 20-8 (from 20:00 to 08:00), or off") from None
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        raise ValueError("quiet hours are two different hours between 0 and 23, like 20-8")
    return start, end


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_cadence(value: str) -> tuple[int, int, int] | None:
    """A weekly moment, ``"mon 09:00"`` → (weekday 0-6, hour, minute); ``"off"`` → None.

    >>> parse_cadence("Mon 9:30"), parse_cadence("off")
    ((0, 9, 30), None)
    """
    text = value.strip().lower()
    if text in ("", "off", "none"):
        return None
    day, _, clock = text.partition(" ")
    hour, sep, minute = clock.strip().partition(":")
    if (day[:3] not in WEEKDAYS or not sep or not hour.isdigit() or not minute.isdigit()
            or int(hour) > 23 or int(minute) > 59):
        raise ValueError("a cadence looks like mon 09:00 (a weekday and a time), or off")
    return WEEKDAYS.index(day[:3]), int(hour), int(minute)


def parse_working_hours(value: str) -> tuple[frozenset[int], int, int] | None:
    """``"mon-fri 9-17"`` → (weekdays 0-6, start hour, end hour); ``"9-17"`` means Monday to
    Friday; ``"off"`` → None (any time).

    >>> parse_working_hours("mon-fri 9-17")
    (frozenset({0, 1, 2, 3, 4}), 9, 17)
    >>> parse_working_hours("sun-thu 8-16")[0] == frozenset({6, 0, 1, 2, 3})
    True
    """
    text = value.strip().lower()
    if text in ("", "off", "none", "any"):
        return None
    parts = text.split()
    days_text, hours_text = (parts[0], parts[1]) if len(parts) == 2 else ("mon-fri", text)
    hint = "working hours look like mon-fri 9-17 (days, then from-to hours), or off"
    first, _, last = days_text.partition("-")
    last = last or first
    try:
        start, end = (int(h) for h in hours_text.split("-"))
        a, b = WEEKDAYS.index(first[:3]), WEEKDAYS.index(last[:3])
    except ValueError:
        raise ValueError(hint) from None
    if not 0 <= start < end <= 24:
        raise ValueError("working hours run from an earlier to a later hour, like 9-17")
    days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
    return days, start, end


TIME_RULES: dict[str, Callable[[str], object]] = {
    "quiet_hours": parse_quiet_hours, "digest_schedule": parse_cadence,
    "nudge_schedule": parse_cadence, "working_hours": parse_working_hours,
}


def _split_ids(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts = value.replace(";", ",").split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        parts = [str(v) for v in value]
    else:
        raise ValueError("expected a comma-separated list of Slack user ids")
    return tuple(p.strip() for p in parts if p.strip())


def not_an_id(value: str, kind: str) -> str | None:
    """Why ``value`` is clearly not a Slack ``kind`` id, or None.

    Slack ids are opaque, so nothing is matched against a pattern; only what is plainly
    something else is refused: an email or @handle, a #channel name, markup, spaces.

    >>> not_an_id("U012ABCDEF", "member"), not_an_id("#general", "channel")[:24]
    (None, "'#general' is a channel ")
    """
    where = {"member": "in their Slack profile: ⋮ → Copy member ID",
             "channel": "at the bottom of the channel's details"}[kind]
    if any(c.isspace() or c in "<>|" for c in value):
        return f"{value!r} is not a {kind} id (find the id {where})"
    if value.startswith("#"):
        return f"{value!r} is a channel name, not a {kind} id (find the id {where})"
    if "@" in value:
        return f"{value!r} is an email or a handle, not a {kind} id (find the id {where})"
    return None


def check_timezone(value: str) -> str:
    """``value`` if it names an IANA timezone, else ValueError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}: use an IANA name such as "
                         "Europe/London, America/New_York or UTC") from None
    return value.strip()


SUPPORTED_DATABASES = ("PeerPulse supports SQLite (sqlite:///peerpulse.db) and PostgreSQL "
                       "(postgresql+psycopg://user:password@host/peerpulse)")


def check_database_url(value: str) -> str:
    """``value`` if it is a URL of a supported database whose driver is installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(value.strip())
    except ArgumentError:
        raise ValueError(f"not a database URL; {SUPPORTED_DATABASES}") from None
    backend = url.get_backend_name()
    if backend == "postgres":
        raise ValueError(f"write postgresql+psycopg:// instead of postgres://; "
                         f"{SUPPORTED_DATABASES}")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"{backend} is not supported; {SUPPORTED_DATABASES}")
    try:
        url.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError):
        raise ValueError(f"the database driver {url.get_driver_name()!r} is not installed; "
                         f"{SUPPORTED_DATABASES}") from None
    return value.strip()


def check_poll_schedule(specs: tuple[str, ...]) -> tuple[str, ...]:
    """``specs`` if each is ``question=day[s] HH:MM`` with a known question, real days and a
    real time (``helped=mon|thu 9:30``), else ValueError."""
    from apscheduler.triggers.cron import CronTrigger

    from bot.services.polls import parse_schedule

    for spec in specs:
        (cadence,) = parse_schedule([spec]).values()
        try:
            CronTrigger(day_of_week=cadence.day_of_week, hour=cadence.hour,
                        minute=cadence.minute, timezone="UTC")
        except ValueError:
            raise ValueError(f"bad days in poll schedule {spec!r}: use mon..sun, a range "
                             "like mon-fri or a list like mon|thu") from None
    return specs


class Settings(BaseSettings):
    """Typed, frozen settings read from the environment and a `.env` file in the working dir.

    The variable names are the stable interface from design.md; PeerPulse-specific knobs use
    the ``PEERPULSE_`` prefix.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    # Installs through Slack's OAuth flow (several workspaces, Enterprise Grid org-wide):
    # an alternative to one SLACK_BOT_TOKEN.
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    slack_redirect_uri: str | None = Field(default=None, alias="SLACK_REDIRECT_URI")
    slack_api_url: str = Field(default=SLACK_DEFAULT_API_URL, alias="SLACK_API_URL")
    database_url: str = Field(default="sqlite:///peerpulse.db", alias="DATABASE_URL")
    owners: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="PEERPULSE_OWNERS")
    timezone: str = Field(default="UTC", alias="PEERPULSE_TIMEZONE")
    roster_sync_hour: int = Field(default=3, ge=0, le=23, alias="PEERPULSE_ROSTER_SYNC_HOUR")
    slack_max_retries: int = Field(default=3, ge=0, le=10, alias="PEERPULSE_SLACK_MAX_RETRIES")
    log_level: str = Field(default="INFO", alias="PEERPULSE_LOG_LEVEL")

    # Programme defaults; owners can override each in the settings modal (stored in the DB).
    kudos_channel: str | None = Field(default=None, alias="PEERPULSE_KUDOS_CHANNEL")
    kudos_values: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("teamwork", "ownership", "curiosity", "customer-first", "courage"),
        alias="PEERPULSE_KUDOS_VALUES",
    )
    kudos_daily_cap: int = Field(default=20, ge=1, le=1000, alias="PEERPULSE_KUDOS_DAILY_CAP")
    kudos_reason_max: int = Field(default=500, ge=10, le=2000, alias="PEERPULSE_KUDOS_REASON_MAX")
    reaction_kudos: bool = Field(default=False, alias="PEERPULSE_REACTION_KUDOS")
    reaction_emoji: str = Field(default="clap", alias="PEERPULSE_REACTION_EMOJI")
    analysis_window_days: int = Field(default=90, ge=7, le=730, alias="PEERPULSE_WINDOW_DAYS")
    min_group_size: int = Field(default=5, ge=2, le=100, alias="PEERPULSE_MIN_GROUP_SIZE")
    champion_channels: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="PEERPULSE_CHAMPION_CHANNELS")
    quiet_hours: str = Field(default="off", alias="PEERPULSE_QUIET_HOURS")
    # Champions: the weekly digest and nudges (owners can override these in the settings modal).
    digest_schedule: str = Field(default="mon 09:00", alias="PEERPULSE_DIGEST_SCHEDULE")
    nudge_schedule: str = Field(default="mon 09:00", alias="PEERPULSE_NUDGE_SCHEDULE")
    working_hours: str = Field(default="mon-fri 9-17", alias="PEERPULSE_WORKING_HOURS")
    nudge_holdout: float = Field(default=0.2, ge=0, lt=1, alias="PEERPULSE_NUDGE_HOLDOUT")
    champion_usergroup: str | None = Field(default=None, alias="PEERPULSE_CHAMPION_USERGROUP")
    data_dir: str = Field(default="peerpulse-data", alias="PEERPULSE_DATA_DIR")
    # Retention (PRIVACY.md): ties, poll rounds and the audit log are kept this many
    # months; snapshot and export files, and copies of sent messages, this many days.
    tie_retention_months: int = Field(default=18, ge=1, le=120,
                                      alias="PEERPULSE_TIE_RETENTION_MONTHS")
    snapshot_retention_days: int = Field(default=90, ge=1, le=3650,
                                         alias="PEERPULSE_SNAPSHOT_RETENTION_DAYS")

    # Polls (owners can override these in the settings modal too).
    poll_questions: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("helped",), alias="PEERPULSE_POLL_QUESTIONS"
    )
    poll_schedule: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("helped=mon 10:00", "advice=tue 10:00", "energy=wed 10:00", "adopted=thu 10:00"),
        alias="PEERPULSE_POLL_SCHEDULE",
    )
    poll_sample_fraction: float = Field(default=0.25, gt=0, le=1, alias="PEERPULSE_POLL_SAMPLE")
    poll_min_days_between: float = Field(
        default=14, ge=0, le=365, alias="PEERPULSE_POLL_MIN_DAYS_BETWEEN"
    )
    poll_reminder_days: float = Field(default=2, ge=0, le=60, alias="PEERPULSE_POLL_REMINDER_DAYS")
    poll_close_days: float = Field(default=5, gt=0, le=90, alias="PEERPULSE_POLL_CLOSE_DAYS")
    poll_check_minutes: float = Field(
        default=15, gt=0, le=1440, alias="PEERPULSE_POLL_CHECK_MINUTES"
    )
    # The background sender of DMs (poll rounds, reminders).
    outbox_per_minute: int = Field(default=300, ge=1, le=100_000, alias="PEERPULSE_SEND_PER_MINUTE")
    outbox_channel_interval: float = Field(
        default=1.0, ge=0, le=60, alias="PEERPULSE_SEND_CHANNEL_INTERVAL"
    )
    outbox_max_attempts: int = Field(default=8, ge=1, le=100, alias="PEERPULSE_SEND_MAX_ATTEMPTS")
    # How long a message may stay claimed by a sender before another process takes it back
    # (a sender that died mid-send with its lock still held, e.g. a hung process); the rows
    # of a sender whose process is gone are taken back at the next check, every half lease.
    outbox_lease_seconds: float = Field(default=120.0, ge=2, le=3600,
                                        alias="PEERPULSE_SEND_LEASE_SECONDS")
    # Replicas on PostgreSQL: seconds between a standby's tries for leadership (and the
    # leader's checks of its lock), so a dead leader is replaced within about this long.
    leader_retry_seconds: float = Field(default=5.0, gt=0, le=60,
                                        alias="PEERPULSE_LEADER_RETRY_SECONDS")

    @field_validator("owners", "kudos_values", "poll_questions", "poll_schedule",
                     "champion_channels", mode="before")
    @classmethod
    def _parse_list(cls, value: object) -> tuple[str, ...]:
        return _split_ids(value)

    @field_validator("kudos_channel", "champion_usergroup", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("quiet_hours", "digest_schedule", "nudge_schedule", "working_hours")
    @classmethod
    def _time_rule(cls, value: str, info: ValidationInfo) -> str:
        TIME_RULES[str(info.field_name)](value)  # raises ValueError naming the form
        return value.strip()

    @field_validator("reaction_emoji")
    @classmethod
    def _emoji_name(cls, value: str) -> str:
        return value.strip().strip(":")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        value = value.strip()
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token",
                     "slack_client_id", "slack_client_secret", "slack_redirect_uri",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("owners", "champion_channels", "kudos_channel")
    @classmethod
    def _ids(cls, value: tuple[str, ...] | str | None, info: ValidationInfo
             ) -> tuple[str, ...] | str | None:
        kind = "member" if info.field_name == "owners" else "channel"
        for one in (value,) if isinstance(value, str) else value or ():
            if problem := not_an_id(one, kind):
                raise ValueError(problem)
        return value

    @field_validator("poll_questions")
    @classmethod
    def _known_questions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from bot.services.polls import QUESTIONS

        unknown = [q for q in value if q not in QUESTIONS]
        if unknown:
            raise ValueError(f"unknown poll question(s) {', '.join(unknown)}; "
                             f"known: {', '.join(QUESTIONS)}")
        return value

    @field_validator("poll_schedule")
    @classmethod
    def _poll_schedule(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_poll_schedule(value)

    def require(self, *names: str) -> None:
        """Raise `ConfigError` naming the first missing variable and how to get it."""
        for name in names:
            field = next(f for f, info in type(self).model_fields.items() if info.alias == name)
            if getattr(self, field) is None:
                raise ConfigError(f"{name} is not set: {HOW_TO_GET.get(name, 'set it in .env')}")

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth(self) -> bool:
        """Installed through Slack's OAuth flow (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET),
        each workspace or organisation with its own token, instead of one SLACK_BOT_TOKEN."""
        return self.slack_client_id is not None or self.slack_client_secret is not None

    @property
    def slack_authorize_url(self) -> str:
        """Slack's authorize page beside the Web API (``https://slack.com/oauth/v2/authorize``
        for Slack's own ``https://slack.com/api/``)."""
        from urllib.parse import urljoin

        return urljoin(self.slack_api_url, "../oauth/v2/authorize")

    def require_slack_access(self) -> None:
        """Raise `ConfigError` unless the bot can reach Slack one way: one SLACK_BOT_TOKEN,
        or installs through OAuth (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, HTTP mode)."""
        if not self.oauth:
            self.require("SLACK_BOT_TOKEN")
            return
        self.require("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
        if self.slack_bot_token is not None:
            raise ConfigError("SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use one bot "
                              "token, or installs through /slack/install (OAuth), not both")


def load_settings(env_file: Path | str | None = ".env", **overrides: object) -> Settings:
    """Read settings; turn validation errors into a one-line `ConfigError`."""
    from pydantic import ValidationError

    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg,arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        reason = str(first.get("msg", "")).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {where}: {reason}") from None
