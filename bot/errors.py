"""The bot's exception family: domain errors whose message is safe to show a user."""

from __future__ import annotations


class PeerPulseError(Exception):
    """Base of every error the bot raises on purpose; ``str(err)`` is user-facing."""


class NotAProgrammeOwner(PeerPulseError):
    def __init__(self) -> None:
        super().__init__("Only programme owners can do that. Ask one of them if you need it.")


class UnknownPerson(PeerPulseError):
    pass


class RosterImportError(PeerPulseError):
    """A roster file had bad rows; ``problems`` lists them as (line, message)."""

    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}:{line}: {msg}" for line, msg in problems]
        super().__init__(
            f"{len(problems)} bad row(s) in {path}; nothing was imported:\n" + "\n".join(lines)
        )
