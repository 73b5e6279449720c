"""The real Bolt app over real HTTP in this process (a threaded WSGI server), against a
local Slack sandbox: for handler tests that need listeners, not a whole bot process."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bot.app import build_services, create_app, identify_workspace
from bot.config import load_settings
from bot.devkit.sandbox import SlackSandbox
from bot.devkit.signed_client import SignedClient
from bot.server import make_wsgi
from handlers.followups import Followups

SECRET = "test-secret"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Bot:
    slack: SignedClient
    sandbox: SlackSandbox


@contextmanager
def running_bot(tmp_path: Path | str, users: Iterable[str],
                followups: Followups | None = None, **env: str) -> Iterator[Bot]:
    """The app for a sandbox holding ``users``, on SQLite under ``tmp_path``; ``env``: more
    settings (e.g. ``PEERPULSE_OWNERS``); ``followups``: as `bot.app.create_app` takes it
    (stopped afterwards)."""
    with SlackSandbox() as sandbox:
        sandbox.add_users([{"id": u, "name": u.lower(), "deleted": False, "is_bot": False}
                           for u in users])
        settings = load_settings(None, SLACK_BOT_TOKEN=sandbox.token,
                                 SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=sandbox.base_url,
                                 DATABASE_URL=f"sqlite:///{tmp_path}/bot.db", **env)
        services = build_services(settings)
        identify_workspace(services)
        app = create_app(settings, services, followups)
        server = make_server("127.0.0.1", 0, make_wsgi(app, signing_secret=SECRET),
                             server_class=_Server, handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}"
            yield Bot(SignedClient(url, SECRET, sandbox.team_id, response_urls=sandbox),
                      sandbox)
        finally:
            server.shutdown()
            if followups is not None:
                followups.stop(timeout=5)
            services.sessions.kw["bind"].dispose()
