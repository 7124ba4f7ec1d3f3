"""Private by default: transcripts, recordings and settings are readable by their owner only.

The CLI sets the process umask to 0o077 once at start, so every file simtrainer or a library writes (the
database and its -wal/-shm, exports, recordings, cached WAVs) is born 0600 and every folder 0700. Folders and
files left looser by an older version, an editor or a copy are tightened on start, and the caller says what
was changed. Only the user and owner bits are kept: nothing is made more permissive than it was.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

UMASK = 0o077


def make_private_process() -> None:
    """Files and folders created from now on by this process are owner-only."""
    os.umask(UMASK)


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) as 0700 folders."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 if it does not exist (SQLite gives its -wal/-shm the same mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def tighten(roots: Iterable[Path]) -> list[tuple[Path, int, int]]:
    """Remove group and other permissions under each existing root; returns (path, old mode, new mode) per
    change. Symbolic links are not followed."""
    changed = []
    for root in roots:
        if not root.is_dir() or root.is_symlink():
            continue
        for folder, dirs, files in os.walk(root):
            for path in (Path(folder), *(Path(folder) / name for name in files)):
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if stat.S_ISLNK(info.st_mode):
                    continue
                old = stat.S_IMODE(info.st_mode)
                if old & 0o077:
                    new = old & 0o700
                    try:
                        os.chmod(path, new)
                    except OSError:
                        continue
                    changed.append((path, old, new))
            dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
    return changed


def notice(changed: list[tuple[Path, int, int]]) -> str:
    """One line saying what was tightened."""
    shown = ", ".join(f"{path} ({old:o}->{new:o})" for path, old, new in changed[:3])
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return f"Made private (owner-only access): {shown}{more}."
