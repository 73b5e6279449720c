"""Thin Slack listeners, one module per Slack surface; `register` wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import actions, commands, events, home, shortcuts, tenant, views
from handlers.followups import Followups

__all__ = ["Followups", "register", "tenant"]


def register(app: App, services: Services, followups: Followups | None = None) -> None:
    """Every listener; ``followups``: where work after acks runs (None: on Bolt's
    listener thread, as the listener's own work)."""
    for surface in (actions, commands, events, home, shortcuts, views):
        surface.register(app, services, followups)
