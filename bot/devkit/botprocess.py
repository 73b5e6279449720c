"""Start the real bot (`peerpulse run --http`) as a child process, for the demo and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (gunicorn's workers), from /proc (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _state(pid: int) -> str | None:
    """The process state letter from /proc (``R``, ``S``, ``T`` stopped, ``Z`` zombie), or
    None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


class BotProcess:
    """``peerpulse run --http`` on a free loopback port, with the environment given.

    The child inherits nothing from our environment but PATH-like basics, so a developer's
    `.env` or tokens never leak into a test or the demo.
    """

    def __init__(self, env: dict[str, str], *, log_path: Path, cwd: Path,
                 port: int | None = None, host: str = "127.0.0.1",
                 args: Sequence[str] = ()) -> None:
        self.host, self.port = host, port or free_port(host)
        self.env, self.log_path, self.cwd = env, log_path, cwd
        self.args = list(args)  # more `peerpulse run` options, e.g. ["--workers", "2"]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> BotProcess:
        base = {k: v for k, v in os.environ.items()
                if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
        base.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--http", "--host", self.host,
             "--port", str(self.port), *self.args],
            env=base, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode}; "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the bot did not become healthy in {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the bot, its gunicorn master and every worker, with no clean shutdown
        anywhere (as when a machine is lost). The master is frozen first, so it cannot
        start a new worker in place of a killed one; returns once all of them are gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            master = self.proc.pid
            os.kill(master, signal.SIGSTOP)
            _wait(lambda: _state(master) in ("T", "Z", None), timeout, "the master stopped")
            workers = child_pids(master)
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()
            # A zombie waiting for its new parent to reap it is gone as far as work goes.
            _wait(lambda: all(_state(pid) in ("Z", None) for pid in workers), timeout,
                  f"workers {workers} gone after SIGKILL")
        self.proc = None

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
