"""Core PeerPulse: composition root, configuration, storage, use cases (`bot.services`),
scheduled jobs, delivery and the CLI. Development tooling lives apart in `bot.devkit`.

See docs/architecture.md for what lives where.
"""
