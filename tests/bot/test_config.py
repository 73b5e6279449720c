"""Settings refuse what cannot work, with a one-line reason naming the variable; Slack ids
stay opaque (only what is plainly not an id is refused)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings, not_an_id

# (variable, value, words the reason must hold)
REFUSED = [
    ("PEERPULSE_POLL_SCHEDULE", "helped=fri 25:00", ["bad time", "helped=fri 25:00"]),
    ("PEERPULSE_POLL_SCHEDULE", "helped=fri 10:61", ["bad time"]),
    ("PEERPULSE_POLL_SCHEDULE", "helped=someday 10:00", ["bad days", "mon-fri"]),
    ("PEERPULSE_POLL_SCHEDULE", "nosuch=mon 10:00", ["bad poll schedule", "helped=mon 10:00"]),
    ("PEERPULSE_POLL_QUESTIONS", "helped,nosuch", ["nosuch", "known: helped, advice"]),
    ("PEERPULSE_OWNERS", "alice@example.com", ["'alice@example.com'", "not a member id"]),
    ("PEERPULSE_OWNERS", "U012ABCDEF,@alice", ["'@alice'", "not a member id"]),
    ("PEERPULSE_OWNERS", "<@U012ABCDEF>", ["not a member id"]),
    ("PEERPULSE_KUDOS_CHANNEL", "#general", ["'#general' is a channel name", "channel id"]),
    ("PEERPULSE_CHAMPION_CHANNELS", "C0CHAMPS,#champions", ["'#champions'", "channel id"]),
    ("PEERPULSE_CHAMPION_CHANNELS", "champions channel", ["not a channel id"]),
    ("PEERPULSE_TIMEZONE", "Mars/Olympus", ["unknown timezone 'Mars/Olympus'", "IANA"]),
    ("DATABASE_URL", "mysql://peerpulse:secret@db/peerpulse",
     ["mysql is not supported", "SQLite", "PostgreSQL"]),
    ("DATABASE_URL", "mysql+pymysql://u@db/p", ["mysql is not supported"]),
    ("DATABASE_URL", "postgres://u@db/p", ["postgresql+psycopg://"]),
    ("DATABASE_URL", "peerpulse.db", ["not a database URL", "sqlite:///"]),
]


@pytest.mark.parametrize(("name", "value", "words"), REFUSED,
                         ids=[f"{n}={v}" for n, v, _ in REFUSED])
def test_bad_settings_are_refused_with_one_line(name: str, value: str, words: list[str]
                                                ) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, **{name: value})
    reason = str(refused.value)
    assert reason.startswith(f"invalid setting {name}: "), reason
    assert "\n" not in reason and "Value error" not in reason
    for word in words:
        assert word in reason, (word, reason)


def test_good_settings_are_accepted() -> None:
    settings = load_settings(
        None, PEERPULSE_POLL_SCHEDULE="helped=mon|thu 9:30, advice=mon-fri 23:59",
        PEERPULSE_POLL_QUESTIONS="helped,advice", PEERPULSE_TIMEZONE="Europe/London",
        PEERPULSE_OWNERS="U012ABCDEF, W0ENTERPRISE, uowner", PEERPULSE_KUDOS_CHANNEL="C0GENERAL",
        PEERPULSE_CHAMPION_CHANNELS="C0CHAMPS,G0PRIVATE",
        DATABASE_URL="postgresql+psycopg://u:p@db/peerpulse")
    assert settings.owners == ("U012ABCDEF", "W0ENTERPRISE", "uowner")
    assert settings.poll_schedule == ("helped=mon|thu 9:30", "advice=mon-fri 23:59")
    for url in ("sqlite:///peerpulse.db", "sqlite://", "postgresql://u@db/p"):
        assert load_settings(None, DATABASE_URL=url).database_url == url
    assert load_settings(None, PEERPULSE_KUDOS_CHANNEL="").kudos_channel is None


def test_ids_are_opaque() -> None:
    """Anything that is not plainly something else passes: ids have no pattern to match."""
    for value in ("U012ABCDEF", "W1", "u-lower_case.9", "C0GENERAL", "x"):
        assert not_an_id(value, "member") is None and not_an_id(value, "channel") is None
    for value in ("a@b.c", "#c", "U1 U2", "<@U1>", "U1|alice"):
        assert not_an_id(value, "member")
