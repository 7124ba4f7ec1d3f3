"""Which process runs a session, and whether that process is still there.

A session row records its owner: host, pid, the process's start time and the boot id. A process killed with
SIGKILL, a crash or a power cut cannot mark its own session, so whoever opens the database next checks the
owners of 'active' sessions and marks those whose process is gone as interrupted. The start time and boot id
stop a reused pid from passing for the original process. An owner on another host (a shared folder) cannot be
checked and is left alone.
"""

from __future__ import annotations

import json
import os
import socket
from functools import lru_cache
from pathlib import Path


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux); None where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its exit status remains
        return "exited"
    return fields[19]


@lru_cache(maxsize=1)
def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


@lru_cache(maxsize=4)
def _owner(pid: int) -> str:
    return json.dumps({"host": socket.gethostname(), "pid": pid, "start": _proc_start(pid), "boot": _boot_id()})


def this_process() -> str:
    """The owner token of the calling process (recomputed after a fork)."""
    return _owner(os.getpid())


def is_gone(owner: str | None) -> bool:
    """True when the owning process has certainly stopped; False when it runs or cannot be checked."""
    if not owner:
        return True  # written before owners were recorded: no running simtrainer can be behind it
    try:
        info = json.loads(owner)
        pid = int(info["pid"])
    except (ValueError, KeyError, TypeError):
        return True
    if info.get("host") != socket.gethostname():
        return False
    if info.get("boot") and _boot_id() and info["boot"] != _boot_id():
        return True  # the machine restarted since
    if pid == os.getpid():
        return owner != this_process()
    if os.name != "posix":
        return False  # no safe liveness probe here (os.kill would end the process on Windows)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    start = _proc_start(pid)
    if start == "exited":
        return True
    return start is not None and info.get("start") is not None and start != info["start"]


def describe(owner: str | None) -> str:
    """A short 'pid N on HOST' for messages."""
    try:
        info = json.loads(owner or "")
        return f"pid {info['pid']} on {info['host']}"
    except (ValueError, KeyError, TypeError):
        return "another process"
