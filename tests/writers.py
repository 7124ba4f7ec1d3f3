"""Many processes writing one fresh session database at once, released together.

Used by tests/test_faults.py, and runnable to measure a checkout:
    python tests/writers.py --processes 20 --rounds 10 [--code /path/to/checkout]
Each process opens the database (the first opens create it), starts a session, saves the opening line and then
trainee turns with codes and patient replies, and ends it. Prints failures and lost rows per round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time
from pathlib import Path
db, go, turns = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
from simtrainer.storage import Store
print("ready", flush=True)
deadline = time.time() + 300
while not go.exists():
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.001)
sid, step = None, "opening the database"
try:
    store = Store(db)
    step = "starting the session"
    sid = store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    step = "saving the opening line"
    store.add_turn(sid, "patient", "opening line")
    for i in range(turns):
        step = "saving a turn"
        turn = store.add_turn(sid, "trainee", f"trainee line {i}")
        store.add_codes(sid, turn, [{"rubric": "mi", "code": "SR", "detail": "", "confidence": 1.0, "scorer": "s",
                                     "reason": "r"}])
        store.add_turn(sid, "patient", f"patient reply {i}")
    step = "ending the session"
    store.end_session(sid, {"ok": True})
except Exception as exc:
    print(json.dumps({"session": sid, "error": f"{type(exc).__name__} while {step}: {exc}"}), flush=True)
    sys.exit(1)
print(json.dumps({"session": sid}), flush=True)
"""


def run_round(folder: Path, processes: int, turns: int, code: Path | None = None) -> dict:
    """One round in a fresh `folder`: returns failures (with their errors) and the rows missing from the db."""
    import sqlite3

    folder.mkdir(parents=True, exist_ok=True)
    db, go = folder / "data" / "sessions.db", folder / "go"
    env = {**os.environ, "SIMTRAINER_HOME": str(folder / "home")}
    env["PYTHONPATH"] = str(code or Path(__file__).resolve().parents[1])
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(go), str(turns)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=folder)  # cwd: PYTHONPATH decides
             for _ in range(processes)]
    for proc in procs:  # every child has imported simtrainer and waits for the go
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        last = out.strip().splitlines()[-1] if out.strip() else "{}"
        results.append({"rc": proc.returncode, **json.loads(last), **({"stderr": err[-500:]} if err else {})})
    failures = [r for r in results if r["rc"] != 0]
    conn = sqlite3.connect(db)
    sessions = {r["session"] for r in results if r["rc"] == 0}
    missing = 0
    for sid in sessions:
        rows = conn.execute("select count(*) from turns where session_id = ?", [sid]).fetchone()[0]
        codes = conn.execute("select count(*) from codes where session_id = ?", [sid]).fetchone()[0]
        status = conn.execute("select status from sessions where id = ?", [sid]).fetchone()[0]
        missing += (1 + 2 * turns - rows) + (turns - codes) + (status != "ended")
    conn.close()
    return {"failures": failures, "missing": missing, "sessions": len(sessions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--code", type=Path, help="Checkout whose simtrainer to measure (PYTHONPATH).")
    args = parser.parse_args()
    started = time.time()
    total_failed = total_missing = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            result = run_round(Path(tmp) / f"round{i}", args.processes, args.turns, args.code)
            total_failed += len(result["failures"])
            total_missing += result["missing"]
            errors = sorted({f.get("error") or f.get("stderr", "")[-120:] for f in result["failures"]})
            print(f"round {i}: {len(result['failures'])}/{args.processes} failed, {result['missing']} rows missing"
                  + (f"; {errors}" if errors else ""), flush=True)
    print(f"total: {total_failed} of {args.processes * args.rounds} processes failed, {total_missing} rows missing "
          f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
