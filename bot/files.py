"""Files that hold people's data are readable by their owner only (design.md, privacy).

Folders PeerPulse creates are 0700 and the files in them 0600, whatever the process umask
(the usual 022 would make them world-readable). Creating the folder 0700 first closes the
gap between a file being written and its mode being tightened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path | str, *, within: Path | str | None = None) -> Path:
    """Create ``path`` (and missing parents) as 0700; return it.

    Folders that already exist keep their mode, except PeerPulse's own data folder
    ``within`` and the folders between it and ``path``, which are tightened to 0700: an
    install made before this rule gets its snapshot and export folders closed too.
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by another worker
            folder.mkdir(mode=PRIVATE_DIR)
        _tighten(folder, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    if within is not None:
        root = Path(within)
        for folder in (path, *path.parents):
            if folder == root or root in folder.parents:
                _tighten(folder, PRIVATE_DIR)
    return path


def private_files(paths: Iterable[Path | str]) -> None:
    """Make each existing file 0600."""
    for p in paths:
        _tighten(Path(p), PRIVATE_FILE)


def ensure_private_file(path: Path | str) -> Path:
    """Create ``path`` empty as 0600 unless it exists (its mode is then tightened).

    A missing folder is not created: whoever opens the file reports it.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    except FileExistsError:
        _tighten(path, PRIVATE_FILE)
    except OSError:
        pass
    else:
        os.close(fd)
        _tighten(path, PRIVATE_FILE)  # os.open's mode is filtered by the umask too
    return path


def remove_folders(root: Path, areas: Iterable[str], doomed: Callable[[Path], bool]) -> int:
    """Delete each folder ``root/<area>/<folder>`` that ``doomed`` picks; returns how many
    are gone (the retention purge and erasure use it on snapshots, exports and digests)."""
    removed = 0
    for area in areas:
        base = root / area
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink()):
            if doomed(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed += not folder.exists()
    return removed


def _tighten(path: Path, mode: int) -> None:
    """Set ``mode`` (0700 or 0600); quietly skip what is gone or not ours to change."""
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except (FileNotFoundError, PermissionError):
        pass
