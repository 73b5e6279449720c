"""Thin Slack listeners, one module per Slack surface; `register` wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import events


def register(app: App, services: Services) -> None:
    events.register(app, services)
