"""Core PeerPulse: configuration, storage, services, CLI and the local Slack sandbox."""
