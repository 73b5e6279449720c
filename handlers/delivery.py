"""Sending owner deliverables (snapshot and export files) to the owner's DM.

Shared by `/network snapshot`, `/network` exports and the App Home buttons.
"""

from __future__ import annotations

from pathlib import Path

from slack_sdk import WebClient

from bot.rendering import render, section
from bot.services import Services
from bot.services import network as network_service


def dm_channel(client: WebClient, user: str) -> str:
    return str(client.conversations_open(users=user)["channel"]["id"])


def upload(client: WebClient, channel: str, paths: list[Path], comment: str) -> None:
    client.files_upload_v2(
        channel=channel, initial_comment=comment,
        file_uploads=[{"file": str(p), "filename": p.name, "title": p.name} for p in paths])


def send_snapshot(services: Services, client: WebClient, owner: str, days: int | None) -> None:
    snap = network_service.take_snapshot(services, owner, days)
    text = render("network_snapshot.j2", days=snap.days, h=snap.headline)
    channel = dm_channel(client, owner)
    client.chat_postMessage(channel=channel, text=text, blocks=[section(text)])
    paths = [p for p in snap.files.values() if p.name in network_service.SNAPSHOT_FILES]
    paths.sort(key=lambda p: network_service.SNAPSHOT_FILES.index(p.name))
    upload(client, channel, paths, f"Snapshot files ({snap.days} days), also kept on the "
                                   f"server in {snap.folder}")


def send_export(services: Services, client: WebClient, owner: str) -> None:
    ties_path, people_path, ties, people = network_service.export_for_owner(services, owner)
    channel = dm_channel(client, owner)
    upload(client, channel, [ties_path, people_path],
           render("network_simple.j2", what="export", ties=ties, people=people))
