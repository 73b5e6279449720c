"""Thin Slack listeners, one module per Slack surface."""
