"""What the CPU reports, and which llama.cpp code paths are safe on it.

llama.cpp's CPU backend adds "extra buffer types" that repack weights for special kernels. On Intel CPUs that
report AMX inside a VM that does not grant AMX state, a build compiled there runs `ggml_backend_amx_mul_mat`
and dies with SIGSEGV on the first token. Turning the extra buffer types off avoids that path; we do it
wherever the CPU reports AMX, and the child-process probe (`llm/probe.py`) turns them off wherever else a
build crashes with them on.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "amx_complex")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is no such file)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def reports_amx(flags: frozenset[str]) -> bool:
    return any(flag in flags for flag in AMX_FLAGS)


@cache
def extra_buffers_safe() -> bool:
    """Whether llama.cpp may use its extra buffer types on this machine by default."""
    return not reports_amx(cpu_flags())
