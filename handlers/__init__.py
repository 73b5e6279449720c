"""Thin Slack listeners, one module per Slack surface; `register` wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import actions, commands, events, home, shortcuts, tenant, views

__all__ = ["register", "tenant"]


def register(app: App, services: Services) -> None:
    for surface in (actions, commands, events, home, shortcuts, views):
        surface.register(app, services)
