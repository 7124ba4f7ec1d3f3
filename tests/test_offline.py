"""Nothing leaves the machine: a real session, speech out and in, traced at the system-call level.

strace sees every connect/sendto of the whole process tree, native libraries included (onnxruntime's telemetry
is C++ and never touches Python's socket module). HOME is a fresh folder, so telemetry files would show there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

ADDRESS = re.compile(r'sin6?_port=htons\((\d+)\).*?(?:inet_addr\(|inet_pton\(AF_INET6?, )"([^"]+)"')
LOOPBACK = re.compile(r"^(127\.|::1$|::ffff:127\.)")

needs_strace = pytest.mark.skipif(
    shutil.which("strace") is None and not os.environ.get("CI"),
    reason="strace is not installed (./scripts/test installs it; CI always has it)",
)


def network_calls(log: str) -> list[tuple[str, str]]:
    """(address, port) of every IPv4/IPv6 connect or send in an strace log."""
    return [(m.group(2), m.group(1)) for m in ADDRESS.finditer(log)]


def test_the_strace_parser_sees_dns_and_remote_connects():
    log = ('12 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0\n'
           '13 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
           'inet_pton(AF_INET6, "2606:4700::1", &sin6_addr), sin6_scope_id=0}, 28) = -1\n'
           '14 connect(7, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0\n')
    assert network_calls(log) == [("10.255.255.53", "53"), ("2606:4700::1", "443"), ("127.0.0.1", "8080")]


@needs_strace
@pytest.mark.model
def test_a_session_and_speech_make_no_connection_and_write_no_telemetry(tmp_path):
    home = tmp_path / "user"
    home.mkdir()
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\nIt sounds like work has been a lot.\n", encoding="utf-8")
    wav = tmp_path / "reply.wav"
    log = tmp_path / "strace.log"
    python = sys.executable
    commands = " && ".join([
        f"{python} -m simtrainer practice -s mi-alcohol-nurse --script {script} --json",
        f"{python} -m simtrainer say 'I have been drinking less this week.' --out {wav}",
        f"{python} -m simtrainer transcribe {wav}",
    ])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIMTRAINER_", "ORT_", "HF_"))}
    env.update(HOME=str(home), SIMTRAINER_HOME=str(tmp_path / "st"), XDG_CACHE_HOME=str(home / ".cache"))
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o", str(log), "bash", "-c",
         commands],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"session_id"' in done.stdout and wav.stat().st_size > 1000
    calls = network_calls(log.read_text(errors="replace"))
    outside = [(addr, port) for addr, port in calls if not LOOPBACK.match(addr)]
    assert outside == [], f"connections or DNS queries left the machine: {outside}"
    assert not any(port == "53" for _, port in calls), "a DNS query was made"
    written = [str(p.relative_to(home)) for p in home.rglob("*")]
    assert not any("Microsoft" in p or "huggingface" in p for p in written), written
