"""The HTTP edge under attack (issue 10 items 1-3): the real bot, `peerpulse run --http`
under gunicorn against the local Slack sandbox, sent what a hostile client sends.

    .venv/bin/python bench/http_edge.py [--code DIR]

``--code`` runs the bot from another checkout (e.g. a `git worktree` of an older commit) to
compare. Prints, for each attack, what the bot answered and what it did:

- 200 unsigned requests with ``X-Slack-Request-Timestamp: abc`` naming a victim and a
  response_url we listen on: the statuses, DMs and ephemerals posted, POSTs to our
  listener, log bytes and tracebacks;
- a declared 300 MB body of which 10 bytes arrive: the answer and how long it took;
- unsigned 64 MB and 300 MB bodies: the answer and the worker's peak memory (VmHWM)
  before and after;
- four signed but malformed bodies: the statuses and the tracebacks logged.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

SECRET = "bench-secret"
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def peak_rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) // 1024


def worker_of(master: int) -> int:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                return int(stat.parent.name)
        except OSError:
            continue
    raise SystemExit("no gunicorn worker found")


def signature(body: bytes, ts: str) -> str:
    return "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body,
                            hashlib.sha256).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    root = parser.parse_args().code.resolve()
    sys.path.insert(0, str(root))
    from bot.devkit.botprocess import BotProcess
    from bot.devkit.sandbox import SlackSandbox
    from bot.devkit.signed_client import SignedClient

    hits: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{listener.server_port}/hook"
    tmp = Path(tempfile.mkdtemp())
    log = tmp / "bot.log"
    with SlackSandbox() as sandbox:
        sandbox.add_users([{"id": u, "name": u.lower(), "deleted": False, "is_bot": False}
                           for u in ("UOWNER", "UVICTIM")])
        bot = BotProcess({"SLACK_BOT_TOKEN": sandbox.token, "SLACK_SIGNING_SECRET": SECRET,
                          "SLACK_API_URL": sandbox.base_url,
                          "DATABASE_URL": f"sqlite:///{tmp}/bot.db"}, log_path=log, cwd=root)
        bot.start()
        time.sleep(2)  # the roster sync at start-up
        sandbox.reset_calls()
        slack = SignedClient(bot.url, SECRET, sandbox.team_id)
        print(f"code: {root}")

        start = len(log.read_bytes())
        statuses: dict[int, int] = {}
        bodies = [urlencode({"command": "/network", "text": "help", "user_id": "UVICTIM",
                             "channel_id": "C0GENERAL", "response_url": hook}).encode(),
                  urlencode({"command": "/network", "text": "help",
                             "user_id": "UVICTIM"}).encode()]
        for i in range(200):
            answer = slack.send(bodies[i % 2], FORM, sign=False, headers={
                "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"})
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        time.sleep(2)
        posted = len(sandbox.calls("chat.postMessage")) + len(sandbox.calls("chat.postEphemeral"))
        written = log.read_bytes()[start:]
        print(f"200 unsigned, timestamp 'abc': statuses {statuses}; DMs/ephemerals {posted}; "
              f"POSTs to our response_url {len(hits)}; log {len(written)} bytes, "
              f"{written.count(b'Traceback')} tracebacks")

        head = f"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: {JSON}\r\n"
        with socket.create_connection(("127.0.0.1", bot.port), timeout=5) as sock:
            began = time.monotonic()
            sock.sendall(f"{head}Content-Length: 300000000\r\n\r\n".encode() + b"0123456789")
            try:
                first = sock.recv(100).split(b"\r\n")[0].decode()
            except TimeoutError:
                first = "no answer in 5 s"
        print(f"declared 300 MB, 10 bytes sent: {first} after {time.monotonic() - began:.2f} s")

        worker = worker_of(bot.proc.pid)  # type: ignore[union-attr]
        for mib in (64, 300):
            before, size, sent = peak_rss_mib(worker), mib << 20, 0
            with socket.create_connection(("127.0.0.1", bot.port), timeout=60) as sock:
                sock.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode())
                block = b"x" * (1 << 20)
                try:
                    while sent < size:
                        sock.sendall(block)
                        sent += len(block)
                    answer_line = sock.recv(100).split(b"\r\n")[0].decode()
                except OSError as exc:
                    answer_line = f"{type(exc).__name__} after {sent >> 20} MiB sent"
            time.sleep(1)
            print(f"unsigned {mib} MiB body: {answer_line}; worker peak RSS {before} -> "
                  f"{peak_rss_mib(worker)} MiB")

        view = {"type": "view_submission", "user": {"id": "UOWNER"},
                "view": {"callback_id": "kudos_modal"}}
        malformed = {"bad JSON in payload=": (b"payload=%7Bnot", FORM),
                     "a JSON list": (b"[1,2]", JSON),
                     "form body sent as JSON": (b"command=/network&text=help&user_id=U1", JSON),
                     "view without type": (urlencode({"payload": json.dumps(view)}).encode(),
                                           FORM)}
        start = len(log.read_bytes())
        said = []
        for name, (body, kind) in malformed.items():
            ts = str(int(time.time()))
            answer = slack.send(body, kind, sign=False, timestamp=ts,
                                signature=signature(body, ts))
            said.append(f"{name} {answer.status}")
        tracebacks = log.read_bytes()[start:].count(b"Traceback")
        print(f"signed but malformed: {'; '.join(said)}; {tracebacks} tracebacks")
        bot.stop()
    listener.shutdown()


if __name__ == "__main__":
    main()
