"""Fault suite: many writers at once, and practice sessions killed with SIGKILL at random points, then resumed.

Real processes, one real SQLite file, the fake model through config (see tests/test_cli.py). No timing is
asserted: kills land wherever the seeded line count and delay put them, and every outcome is checked.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from writers import run_round

from simtrainer.config import config_file
from simtrainer.storage import Store

SCENARIOS = {"mi-alcohol-nurse": "Dana", "dearman-roommate-noise": "Alex", "cbt-panic-supermarket": None}
LINES = [
    "What brings you in today?",
    "It sounds like the shifts are exhausting.",
    "What would you like to be different?",
    "You have thought about this a lot.",
    "How does the wine fit into your evenings?",
    "I hear that part of you wants a change.",
    "Could we talk about the noise at night?",
    "What went through your mind in the queue?",
]
SESSIONS = 20
TURNS = 7  # enough printed lines that a kill after 1-12 of them falls mid-session (a DEAR MAN session prints no MI codes)


def test_twenty_processes_start_sessions_at_once(tmp_path):
    """The first open of a fresh database (schema creation), session starts and turns, all at once."""
    result = run_round(tmp_path, processes=20, turns=3)
    assert result["failures"] == [] and result["missing"] == 0 and result["sessions"] == 20
    conn = sqlite3.connect(tmp_path / "data" / "sessions.db")
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert conn.execute("select count(*) from turns").fetchone()[0] == 20 * 7
    assert conn.execute("select count(*) from _migrations").fetchone()[0] == conn.execute(
        "select count(distinct name) from _migrations").fetchone()[0]  # each migration applied once


def _practice(home: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    env = {**os.environ, "SIMTRAINER_HOME": str(home), "PYTHONUNBUFFERED": "1", "COLUMNS": "4000"}
    return subprocess.Popen([sys.executable, "-m", "simtrainer", "practice", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _kill_at_random(home: Path, tmp: Path, i: int) -> dict:
    rng = random.Random(1500 + i)
    scenario = list(SCENARIOS)[i % len(SCENARIOS)]
    lines = rng.sample(LINES, TURNS)
    script = tmp / f"script{i}.txt"
    script.write_text("\n".join(lines) + "\n")
    after_lines, delay = rng.randint(1, 12), rng.uniform(0.0, 0.05)
    proc = _practice(home, "-s", scenario, "--script", str(script), "--trainee", f"t{i}")
    assert proc.stdout is not None
    seen = []
    while len(seen) < after_lines:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
    if delay:
        subprocess.run(["sleep", f"{delay:.3f}"])  # a real pause in the child's life, not a timing assertion
    proc.send_signal(signal.SIGKILL)
    rest, err = proc.communicate(timeout=120)
    return {"i": i, "scenario": scenario, "lines": lines, "output": "".join(seen) + rest, "rc": proc.returncode,
            "stderr": err}


def _completed_turns(output: str, name: str | None) -> list[tuple[str, str]]:
    """(trainee line, reply) for each turn whose reply was printed to its end (a newline after it)."""
    finished = output.split("\n")[:-1]  # the last piece has no newline: a reply cut off mid-stream
    turns, trainee = [], None
    for line in finished:
        if line.startswith("You: "):
            trainee = line[len("You: "):]
        elif trainee is not None and not line.startswith("  ") and ": " in line:
            speaker, reply = line.split(": ", 1)
            assert name is None or speaker == name
            turns.append((trainee, reply.strip()))
            trainee = None
    return turns


def _check_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert conn.execute("pragma foreign_key_check").fetchall() == []
    conn.close()


def test_kill_nine_at_random_points_loses_no_completed_turn_and_each_resumes(home, tmp_path):
    config_file().parent.mkdir(parents=True)
    config_file().write_text('model = "slow"\n[models.slow]\nbackend = "fake"\ntoken_delay_s = 0.02\n')
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda i: _kill_at_random(home, tmp_path, i), range(SESSIONS)))
    db = home / "data" / "sessions.db"
    _check_db(db)
    store = Store(db)
    by_trainee = {s["trainee"]: s for s in store.list_sessions(limit=1000)}
    figures = {"killed": 0, "trainee": 0, "patient": 0, "completed": 0, "uncoded": 0, "unanswered": 0}
    for run in runs:
        assert run["rc"] == -signal.SIGKILL, run
        figures["killed"] += 1
        session = by_trainee[f"t{run['i']}"]
        assert session["status"] == "interrupted"
        turns = store.turns(session["id"])
        trainee = [t for t in turns if t["speaker"] == "trainee"]
        figures["trainee"] += len(trainee)
        figures["patient"] += len(turns) - len(trainee)
        figures["uncoded"] += sum(1 for t in trainee if not t["codes"])
        figures["unanswered"] += turns[-1]["speaker"] == "trainee"
        assert [t["text"] for t in trainee] == run["lines"][: len(trainee)]
        pairs = [(a["text"], b["text"]) for a, b in zip(turns, turns[1:], strict=False)
                 if a["speaker"] == "trainee" and b["speaker"] == "patient"]
        completed = _completed_turns(run["output"], SCENARIOS[run["scenario"]])
        figures["completed"] += len(completed)
        assert completed == pairs[: len(completed)], run["output"]  # every reply shown whole was saved
        run["session"], run["saved"] = session["id"], len(trainee)
    store.close()

    def resume(run: dict) -> tuple[dict, subprocess.CompletedProcess]:
        rest = run["lines"][run["saved"]:]
        args = ["--resume", run["session"][-4:]]
        if rest:
            script = tmp_path / f"rest{run['i']}.txt"
            script.write_text("\n".join(rest) + "\n")
            args += ["--script", str(script)]
        proc = _practice(home, *args)  # without a script: the interactive loop, ended by end of input
        out, err = proc.communicate(timeout=300)
        return run, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    with ThreadPoolExecutor(4) as pool:
        resumed = list(pool.map(resume, runs))
    _check_db(db)
    store = Store(db)
    for run, result in resumed:
        assert result.returncode == 0, result.stderr
        session = store.get_session(run["session"])
        assert session["status"] == "ended" and session["summary"]["trainee_turns"] == TURNS
        turns = store.turns(run["session"])
        assert [t["idx"] for t in turns] == list(range(1 + 2 * TURNS))
        assert [t["speaker"] for t in turns] == ["patient"] + ["trainee", "patient"] * TURNS
        assert [t["text"] for t in turns if t["speaker"] == "trainee"] == run["lines"]
        assert all(t["codes"] for t in turns if t["speaker"] == "trainee")  # lost codes were coded on resume
        assert all(t["text"].strip() for t in turns)
    store.close()
    print(f"\nkill -9 trials: {figures}")
