"""No native crash on any CPU: the extra-buffer guard, the child-process probe and its messages."""

from __future__ import annotations

import json
import sys

import pytest

import simtrainer.llm.probe as probe
from simtrainer.config import Settings
from simtrainer.errors import UserError
from simtrainer.llm import cpu
from simtrainer.llm.llamacpp import LlamaCppBackend
from simtrainer.workspace import Workspace

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8 arch_capabilities
"""
EPYC = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
# A real native crash (SIGSEGV from reading address 0) after reporting the phases the real child reports.
SEGFAULT = "print('load', flush=True); print('generate', flush=True); import ctypes; ctypes.string_at(0)"


def test_amx_flags_are_read_from_cpuinfo():
    assert cpu.reports_amx(cpu.cpu_flags(SAPPHIRE_RAPIDS))
    assert not cpu.reports_amx(cpu.cpu_flags(EPYC))
    assert cpu.cpu_flags("") == frozenset()


@pytest.mark.model
def test_the_loaded_model_gets_the_extra_buffer_choice(gguf_path, monkeypatch):
    """The parameters llama.cpp really receives, on any machine: off where the CPU reports AMX."""
    cpu.extra_buffers_safe.cache_clear()
    monkeypatch.setattr(cpu, "cpu_flags", lambda cpuinfo=None: frozenset(SAPPHIRE_RAPIDS.split()))
    try:
        backend = LlamaCppBackend(gguf_path, name="t", n_ctx=512)
        assert backend.extra_buffers is False and backend.llama.model_params.use_extra_bufts is False
        assert "".join(backend.complete("COUNSELOR: Hi.\nCLIENT:", probe_params()))  # it still generates
        backend.close()
    finally:
        cpu.extra_buffers_safe.cache_clear()
    backend = LlamaCppBackend(gguf_path, name="t", n_ctx=512, extra_buffers=True)
    assert backend.llama.model_params.use_extra_bufts is True
    backend.close()
    import llama_cpp.llama_cpp as native

    assert native.llama_model_default_params().use_extra_bufts is True  # the library's own default is untouched


def probe_params():
    from simtrainer.llm.base import GenParams

    return GenParams(max_tokens=4, temperature=0)


@pytest.mark.model
def test_probe_runs_the_real_model_in_a_child_and_caches_it(gguf_path, monkeypatch):
    result = probe.check_model_runs(gguf_path)
    assert result.ok and result.phase == "done" and result.tokens_per_s > 0
    assert f"generated {probe.PROBE_TOKENS} tokens" in result.detail  # the end of text held off: a full count
    assert probe.cached_result(gguf_path) == result
    # Cached: no child runs again, even one that would crash.
    monkeypatch.setattr(probe, "_child_command", lambda *a, **k: [sys.executable, "-c", SEGFAULT])
    assert probe.check_model_runs(gguf_path) == result
    with pytest.raises(UserError) as info:
        probe.check_model_runs(gguf_path, use_cache=False)
    assert "crashed (SIGSEGV) while generating the first tokens" in info.value.what
    assert "llama-cpp-python" in info.value.where and "GGML_NATIVE=OFF" in info.value.fix


def _crash_with_extra_buffers(original):
    def command(path, *, extra_buffers, n_threads, n_gpu_layers):
        if extra_buffers:
            return [sys.executable, "-c", SEGFAULT]
        return original(path, extra_buffers=extra_buffers, n_threads=n_threads, n_gpu_layers=n_gpu_layers)

    return command


@pytest.mark.model
def test_a_build_that_crashes_with_extra_buffers_runs_without_them(monkeypatch):
    monkeypatch.setattr(probe, "extra_buffers_safe", lambda: True)
    monkeypatch.setattr(probe, "_child_command", _crash_with_extra_buffers(probe._child_command))
    workspace = Workspace(Settings())
    workspace.check()
    assert workspace.backend.llama.model_params.use_extra_bufts is False
    cached = probe.cached_result(workspace.model_entry.path)
    assert cached.ok and cached.extra_buffers is False and "so they are off" in cached.detail
    workspace.close()


def test_practice_reports_a_crashing_build_instead_of_dying(cli, monkeypatch):
    """The crash happens in the child; the user gets what, where and the fix, exit 2, and no session is left."""
    monkeypatch.setattr(probe, "_child_command", lambda *a, **k: [sys.executable, "-c", SEGFAULT])
    result = cli("practice", "-s", "mi-alcohol-nurse", input="Hello\n")
    assert result.exit_code == 2
    assert "cannot run on this machine" in result.output and "SIGSEGV" in result.output
    assert "Traceback" not in result.output
    assert json.loads(cli("sessions", "list", "--json").stdout) == []


def test_doctor_reports_the_crash_as_a_problem(cli, monkeypatch):
    monkeypatch.setattr(probe, "_child_command", lambda *a, **k: [sys.executable, "-c", SEGFAULT])
    result = cli("doctor", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    runs = next(c for c in report["checks"] if c["part"] == "model runs")
    assert report["ok"] is False and runs["status"] == "problem" and "SIGSEGV" in runs["detail"]
    assert "GGML_NATIVE=OFF" in runs["fix"]


def test_a_stuck_model_is_a_message_not_a_hang(tmp_path, gguf_path, monkeypatch):
    monkeypatch.setattr(probe, "_child_command",
                        lambda *a, **k: [sys.executable, "-c", "print('load', flush=True); import time; "
                                         "time.sleep(60)"])
    result = probe.run_probe(gguf_path, extra_buffers=True, timeout_s=8)
    assert not result.ok and "did not finish in 8 s" in result.detail and "loading the model" in result.detail


def test_a_rate_is_given_only_from_enough_tokens():
    assert probe.generation_rate(8, 0.5) == 14.0  # seven tokens after the first, in half a second
    assert probe.generation_rate(2, 0.5) is None and probe.generation_rate(8, 0.0) is None
