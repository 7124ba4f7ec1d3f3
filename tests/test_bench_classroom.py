"""`bench classroom`: the scheduling, figures and counting with the fake backend; then for real, against
llama.cpp's server started by the bench itself and against one already running."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import free_port, run_cli

from simtrainer.bench.classroom import StudentRun, count_saved, figures, run_classroom, student_lines
from simtrainer.config import PatientSettings
from simtrainer.llm.base import ModelCallError
from simtrainer.llm.fake import FakeBackend
from simtrainer.scenarios import get_card
from simtrainer.session import Session
from simtrainer.storage import Store

PATIENT = {"SIMTRAINER_TIMEOUT_S": "900"}  # a busy machine queues two students' requests slowly; no error from that


class MeetingBackend(FakeBackend):
    """A fake whose first call waits until every student has made one: the run fails unless they overlap."""

    def __init__(self, barrier: threading.Barrier, *, fail: bool = False):
        super().__init__()
        self.barrier, self.fail, self.met = barrier, fail, False

    def complete(self, prompt, params):
        if not self.met:
            self.met = True
            self.barrier.wait(timeout=120)
        if self.fail:
            raise ModelCallError("Cannot reach the model server.", where="test")
        yield from super().complete(prompt, params)


def open_students(tmp_path: Path, students: int, failing: set[int] = frozenset()):
    barrier = threading.Barrier(students)
    card = get_card("mi-alcohol-nurse")
    stores = []

    def open_student(index: int):
        db = tmp_path / f"student-{index}" / "sessions.db"
        db.parent.mkdir()
        store = Store(db)
        stores.append(store)
        backend = MeetingBackend(barrier, fail=index in failing)
        session = Session(store, card, backend, patient_settings=PatientSettings(steering=False),
                          trainee=f"student-{index}")
        return session, StudentRun(f"student-{index}", db=db)

    return open_student, stores


def test_students_run_at_once_and_turns_are_counted_from_their_databases(tmp_path):
    open_student, stores = open_students(tmp_path, 4)
    runs, wall = run_classroom(open_student, 4, 3)
    for store in stores:
        store.close()
    assert [run.errors for run in runs] == [[]] * 4  # the barrier was met: all four were mid-turn together
    assert all(len(run.reply_s) == 3 and len(run.first_token_s) == 3 for run in runs)
    assert count_saved(runs) == {"trainee": 12, "replies": 12}
    result = figures(runs, wall, count_saved(runs), 3)
    assert result["turns_saved"] == result["turns_expected"] == 24
    assert result["replies"] == 12 and result["errors"] == 0
    assert result["first_token_p50_s"] <= result["reply_p50_s"] <= result["reply_p95_s"] <= result["reply_max_s"]
    for run in runs:  # each student's own database holds that student's ended session, nobody else's
        rows = Store(run.db).list_sessions()
        assert [(r["trainee"], r["status"]) for r in rows] == [(run.trainee, "ended")]


def test_a_failing_model_is_an_error_and_its_replies_are_not_counted_as_saved(tmp_path):
    open_student, stores = open_students(tmp_path, 3, failing={1})
    runs, wall = run_classroom(open_student, 3, 2)
    for store in stores:
        store.close()
    assert [len(run.errors) for run in runs] == [0, 2, 0]
    assert "Cannot reach the model server." in runs[1].errors
    saved = count_saved(runs)
    assert saved == {"trainee": 6, "replies": 4}  # the failing student's turns were kept, without replies
    result = figures(runs, wall, saved, 2)
    assert result["errors"] == 2 and result["turns_saved"] == 10 and result["turns_expected"] == 12
    assert result["replies"] == 4


def test_figures_percentiles_and_throughput():
    runs = [StudentRun("a", first_token_s=[1.0, 2.0], reply_s=[2.0, 4.0], model_requests=2),
            StudentRun("b", first_token_s=[3.0, 4.0], reply_s=[6.0, 8.0], model_requests=2, errors=["x"])]
    result = figures(runs, 20.0, {"trainee": 4, "replies": 4}, 2)
    assert result["first_token_p50_s"] == 2.5 and result["reply_p50_s"] == 5.0
    assert result["reply_p95_s"] == 7.7 and result["reply_max_s"] == 8.0
    assert result["replies_per_min"] == 12.0 and result["wall_per_request_s"] == 5.0 and result["errors"] == 1
    empty = figures([StudentRun("c")], 1.0, {"trainee": 0, "replies": 0}, 1)
    assert empty["reply_p50_s"] is None and empty["replies"] == 0


def test_each_student_says_different_lines():
    assert student_lines(0, 3)[1] == student_lines(1, 3)[0] and student_lines(0, 3) != student_lines(1, 3)


def test_user_mistakes_exit_2(cli):
    result = run_cli("bench", "classroom", "--server", "not-a-url")
    assert result.returncode == 2 and "not a server address" in result.stderr + result.stdout
    result = run_cli("bench", "classroom", "--server-model", "x")
    assert result.returncode == 2 and "--server-model needs --server" in result.stderr + result.stdout
    result = run_cli("bench", "classroom", "--server", f"http://127.0.0.1:{free_port()}/v1")
    assert result.returncode == 2 and "did not answer" in result.stderr and "Start the server" in result.stderr


def test_real_server_started_by_the_bench(home):
    result = run_cli("bench", "classroom", "--students", "2", "--turns", "2", "--json", env=PATIENT)
    assert result.returncode == 0, result.stderr
    figures_ = json.loads(result.stdout)
    assert figures_["server_started"] is True and figures_["model"] == "smollm2-135m"
    assert figures_["errors"] == 0, figures_["error_messages"]
    assert figures_["turns_saved"] == figures_["turns_expected"] == 8 and figures_["replies"] == 4
    assert 0 < figures_["first_token_p50_s"] <= figures_["reply_p95_s"]
    assert figures_["model_requests"] >= 4 and figures_["model_tokens"] > 0


def test_an_existing_server_is_benched_with_the_model_it_lists(llama_server):
    result = run_cli("bench", "classroom", "--students", "2", "--turns", "1", "--server", llama_server, "--json",
                     env=PATIENT)
    assert result.returncode == 0, result.stderr
    figures_ = json.loads(result.stdout)
    assert figures_["server_started"] is False and figures_["model"] == "smol" and figures_["server"] == llama_server
    assert figures_["errors"] == 0 and figures_["turns_saved"] == 4


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_ctrl_c_stops_the_server(home):
    bench = subprocess.Popen([sys.executable, "-m", "simtrainer", "bench", "classroom", "--students", "1", "--turns",
                              "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 300
    servers: set[int] = set()
    while time.time() < deadline and not servers:
        servers = {pid for pid in _children(bench.pid)
                   if b"simtrainer.llm.server" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        time.sleep(0.2)
    assert servers, "the bench started no server"
    time.sleep(3)  # into the run (or still loading): either way the server must go
    bench.send_signal(signal.SIGINT)
    bench.communicate(timeout=120)
    assert bench.returncode != 0
    for pid in servers:
        assert not Path(f"/proc/{pid}").exists()


def test_server_figures_read_llama_cpp_timing_lines():
    from simtrainer.bench.classroom import server_figures

    log = """INFO:     127.0.0.1:5 - "POST /v1/completions HTTP/1.1" 200 OK
llama_perf_context_print:        load time =       0.46 ms
llama_perf_context_print: prompt eval time =    1000.00 ms /   400 tokens (    2.50 ms per token, 400 tokens per second)
llama_perf_context_print:        eval time =    2000.00 ms /    20 runs   (  100.00 ms per token,    10.00 tokens per second)
llama_perf_context_print:       total time =    3100.00 ms /   420 tokens
llama_perf_context_print: prompt eval time =       0.00 ms /     1 tokens (    0.00 ms per token,      inf tokens per second)
llama_perf_context_print:        eval time =    3000.00 ms /    30 runs   (  100.00 ms per token,    10.00 tokens per second)
"""
    figures_ = server_figures(log)
    assert figures_["server_requests"] == 2 and figures_["server_busy_s"] == 6.0
    assert figures_["server_service_mean_s"] == 3.0 and figures_["server_prompt_tokens_mean"] == 200.5
    assert figures_["server_tokens_per_s"] == 10.0
    assert server_figures("no timing here") == {"server_requests": 0}
