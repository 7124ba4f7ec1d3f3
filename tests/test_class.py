"""`class import / list / report`: students' hand-in bundles into a class, all or nothing, and the class report.

The bundles are built from real `practice --script --json` runs (the fake patient, the real coders), sealed
with the bundle module the student side writes them with."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from browser import visit
from conftest import run_cli

from simtrainer.classroom.bundle import write_bundle
from simtrainer.review.charts import SVG_NS

EXERCISE = {"id": "mi-first-session", "title": "A first MI session", "pack_sha256": "a1" * 32}
HOSTILE = '=1+1 <script>alert("x")</script>'
ADVICE = "You should really cut down, it is bad for you."
SCRIPTS = {
    "ann-1": ["What brings you in today?", "How many drinks is that on a work night?", "Is that every night?"],
    "ann-2": ["What brings you in today?", "It sounds like the drinking helps you unwind after long shifts.",
              "You're worried about what your sister sees.", "What would you like to be different?"],
    "bob": ["How many drinks do you have a week?", "Is it every night?", ADVICE, "Do you drink alone?"],
    "hostile": ["What brings you in today?", ADVICE, "Is it every night?"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """`practice --json` output per script, from a home of their own."""
    home = tmp_path_factory.mktemp("students")
    out = {}
    for key, lines in SCRIPTS.items():
        script = home / f"{key}.txt"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = run_cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m", "fake",
                       env={"SIMTRAINER_HOME": str(home / "home")})
        assert done.returncode == 0, done.stderr
        out[key] = json.loads(done.stdout)
    return out


def goals(summary: dict) -> list[dict]:
    """What a pack with `rq_min = 1.0` and `mi_non_adherent_max = 0` gives for this summary."""
    mi = summary["rubrics"]["mi"]
    return [{"key": "rq_min", "met": mi["rq"] is not None and mi["rq"] >= 1.0, "value": mi["rq"], "target": 1.0},
            {"key": "mi_non_adherent_max", "met": mi["mi_non_adherent"] <= 0, "value": mi["mi_non_adherent"],
             "target": 0}]


def payload(run: dict, trainee: str, *, hour: int, exercise: dict = EXERCISE, sustain_before_advice: bool = True,
            goal_results: list[dict] | None = None) -> dict:
    """A bundle's payload as the student side fills it. Which patient line the coder hears as sustain talk is
    the model's call, so the line before the advice is coded sustain here where a test needs it."""
    turns = json.loads(json.dumps(run["turns"]))
    for before, turn in zip(turns, turns[1:], strict=False):
        if turn["text"] == ADVICE and sustain_before_advice:
            before["codes"] = [{"rubric": "mi", "code": "sustain", "detail": "client talk", "confidence": 0.8,
                                "scorer": "mi-coder", "reason": "Sustain talk"}]
    return {"created_at": f"2026-12-01T{hour:02d}:00:00+00:00", "simtrainer_version": "0.1.0",
            "exercise": exercise, "trainee": trainee,
            "session": {"id": run["session_id"], "scenario": run["scenario"], "model": run["model"]},
            "turns": turns, "summary": run["summary"],
            "goals": goals(run["summary"]) if goal_results is None else goal_results}


@pytest.fixture
def bundles(runs, tmp_path) -> dict[str, Path]:
    folder = tmp_path / "hand-ins"
    folder.mkdir()
    made = {"ann-1": payload(runs["ann-1"], "Ann", hour=9), "ann-2": payload(runs["ann-2"], "ann ", hour=10),
            "bob": payload(runs["bob"], "Bob", hour=11), "hostile": payload(runs["hostile"], HOSTILE, hour=12)}
    out = {}
    for key, body in made.items():
        out[key] = folder / f"{key}.json"
        write_bundle(body, out[key])
    return out


def db_rows(home: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(home / "data" / "sessions.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_import_three_students_then_again_adds_nothing(cli, bundles, runs, home):
    files = [str(p) for p in bundles.values()]
    first = cli("class", "import", "--class", "Group A", *files)
    assert first.exit_code == 0
    assert "Made class 'Group A' for exercise A first MI session (mi-first-session)" in first.output
    assert "Imported 4 bundles into 'Group A'" in first.output
    stored = db_rows(home, "select trainee, checksum, bundle from class_bundles order by id")
    assert [r[0] for r in stored] == ["Ann", "ann", "Bob", HOSTILE]
    sealed = json.loads(bundles["bob"].read_text(encoding="utf-8"))
    assert json.loads(stored[2][2]) == sealed and stored[2][1] == sealed["checksum"]  # kept whole
    again = cli("class", "import", "--class", "group a", *files)  # any case names the same class
    assert again.exit_code == 0
    assert "4 already in 'Group A', skipped" in again.output and "Nothing new was imported." in again.output
    assert len(db_rows(home, "select id from class_bundles")) == 4
    assert db_rows(home, "select count(*) from classes") == [(1,)]
    resent = bundles["bob"].with_name("bob-from-the-app.json")  # the same session handed in again, later
    write_bundle(payload(runs["bob"], "Bob", hour=13), resent)
    twice = cli("class", "import", "--class", "Group A", str(resent))
    assert twice.exit_code == 0 and "1 already in 'Group A', skipped" in twice.output
    assert len(db_rows(home, "select id from class_bundles")) == 4
    listed = json.loads(cli("class", "list", "--json").stdout)
    assert [(c["class"], c["exercise"]["id"], c["students"], c["bundles"]) for c in listed] == [
        ("Group A", "mi-first-session", 3, 4)]


def test_bad_bundles_refuse_the_whole_import(runs, bundles, tmp_path, home):
    tampered, truncated, foreign, other, wrong_id = (tmp_path / n for n in (
        "tampered.json", "truncated.json", "foreign.json", "other-pack.json", "other-exercise.json"))
    text = bundles["bob"].read_text(encoding="utf-8")
    tampered.write_text(text.replace('"Bob"', '"Bobby"'), encoding="utf-8")
    truncated.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    foreign.write_text(json.dumps({"session_id": "x", "turns": []}), encoding="utf-8")
    write_bundle(payload(runs["bob"], "Cleo", hour=13, exercise={**EXERCISE, "pack_sha256": "b2" * 32}), other)
    write_bundle(payload(runs["bob"], "Dan", hour=13, exercise={**EXERCISE, "id": "dearman-ask"}), wrong_id)
    good = [str(bundles["ann-1"]), str(bundles["bob"])]
    # a new class: the first good bundle ties it, the rest are checked against it; nothing is made
    result = run_cli("class", "import", "--class", "Group B", *good, str(tampered), str(truncated), str(foreign),
                     str(other), str(wrong_id), str(tmp_path / "missing.json"), env={"SIMTRAINER_HOME": str(home)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr
    assert "6 of 8 files refused, so nothing was imported" in lines
    assert f"{tampered}: the bundle was changed after it was written (checksum mismatch)" in lines
    assert f"{truncated}, line" in lines and "the bundle is truncated" in lines
    assert f"{foreign}: not a simtrainer hand-in bundle" in lines
    assert f"{other}: a bundle for another version of exercise 'mi-first-session'" in lines
    assert f"{wrong_id}: a bundle for exercise 'dearman-ask'" in lines
    assert f"{tmp_path / 'missing.json'}: no such file" in lines
    assert db_rows(home, "select count(*) from classes") == [(0,)]
    assert db_rows(home, "select count(*) from class_bundles") == [(0,)]
    # an existing class keeps what it had
    run_cli("class", "import", "--class", "Group B", good[0], env={"SIMTRAINER_HOME": str(home)})
    result = run_cli("class", "import", "--class", "Group B", good[1], str(other), env={"SIMTRAINER_HOME": str(home)})
    assert result.returncode == 2 and "1 of 2 files refused" in result.stderr
    assert db_rows(home, "select trainee from class_bundles") == [("Ann",)]


def test_report_json(cli, bundles, runs):
    cli("class", "import", "--class", "Group A", *map(str, bundles.values()))
    data = json.loads(cli("class", "report", "group a", "--json").stdout)
    assert {"class", "exercise", "students"} <= set(data)
    assert data["class"] == "Group A" and data["exercise"]["id"] == "mi-first-session"
    students = {s["trainee"]: s for s in data["students"]}
    assert list(students) == [HOSTILE, "Ann", "Bob"]
    for s in data["students"]:
        assert {"trainee", "sessions", "goals_met", "goals_total"} <= set(s)
    ann = students["Ann"]
    assert ann["sessions"] == 2 and ann["goals_total"] == 2
    results = {key: goals(runs[key]["summary"]) for key in ("ann-1", "ann-2")}
    met = {key: sum(g["met"] for g in results[key]) for key in results}
    best = "ann-2" if met["ann-2"] >= met["ann-1"] else "ann-1"  # the best hand-in; the later of equals
    assert ann["goals_met"] == met[best] and ann["best_session"] == runs[best]["session_id"]
    assert ann["latest_session"] == runs["ann-2"]["session_id"]
    stored = runs[best]["summary"]["rubrics"]["mi"]
    assert {k: ann["figures"]["mi"][k] for k in ("rq", "pct_cr", "mi_non_adherent", "relational")} == {
        k: stored[k] for k in ("rq", "pct_cr", "mi_non_adherent", "relational")}
    assert students["Bob"]["goals"] == goals(runs["bob"]["summary"])  # each goal result as handed in
    assert students["Bob"]["goals_met"] == sum(g["met"] for g in goals(runs["bob"]["summary"]))
    # class distributions and goal shares, over the students' best hand-ins
    spread = {d["figure"]: d for d in data["distributions"] if d["rubric"] == "mi"}
    values = sorted(s["figures"]["mi"]["mi_non_adherent"] for s in data["students"])
    assert spread["mi_non_adherent"]["median"] == values[1] and spread["mi_non_adherent"]["students"] == 3
    assert (spread["mi_non_adherent"]["min"], spread["mi_non_adherent"]["max"]) == (values[0], values[2])
    shares = {g["key"]: g for g in data["goals"]}
    assert shares["mi_non_adherent_max"]["students"] == 3
    assert shares["mi_non_adherent_max"]["students_met"] == sum(
        s["goals"][1]["met"] for s in data["students"])
    # advice right after sustain talk: Bob and the hostile name; Ann gave none in either session
    slip = next(p for p in data["slips"] if p["id"] == "push_after_sustain")
    assert (slip["students"], slip["of"], slip["trainees"]) == (2, 3, [HOSTILE, "Bob"])
    assert slip["example"]["text"] == ADVICE and slip["example"]["before"]
    assert data["slips"] == sorted(data["slips"], key=lambda p: -p["students"])


def test_report_csv_one_row_per_student(cli, bundles, tmp_path):
    cli("class", "import", "--class", "Group A", *map(str, bundles.values()))
    text = cli("class", "report", "Group A", "--format", "csv").output
    out = tmp_path / "class.csv"
    assert cli("class", "report", "Group A", "-o", str(out)).output.strip() == f"Wrote {out}"  # named .csv
    assert out.read_text(encoding="utf-8") == text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["trainee"] for r in rows] == ["'" + HOSTILE, "Ann", "Bob"]  # a formula is neutralised
    assert rows[1]["sessions"] == "2" and rows[1]["goals_total"] == "2"
    assert {r["goal:rq_min"] for r in rows} <= {"true", "false"} and "mi_rq" in rows[0]
    assert "push_after_sustain" in rows[2]["slips"]


def test_report_html_in_chromium(cli, bundles, tmp_path):
    cli("class", "import", "--class", "Group A", *map(str, bundles.values()))
    out = tmp_path / "class.html"
    assert cli("class", "report", "Group A", "--format", "html", "-o", str(out)).output.strip() == f"Wrote {out}"
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert cli("class", "report", "Group A", "--format", "html").output.startswith("<!DOCTYPE html>")
    chart = ET.fromstring("<svg" + html.split("<svg", 1)[1].split("</svg>")[0] + "</svg>")
    assert chart.find(f"{{{SVG_NS}}}title").text == "Students meeting each goal"
    bars = [r for r in chart.iter(f"{{{SVG_NS}}}rect") if r.get("class") == "bar"]
    shares = json.loads(cli("class", "report", "Group A", "--json").stdout)["goals"]
    track = float(next(r for r in chart.iter(f"{{{SVG_NS}}}rect") if r.get("class") == "track").get("width"))
    assert [float(b.get("width")) for b in bars] == [round(g["share"] * track, 1) for g in shares]
    shot = tmp_path / "class.png"
    seen = visit(out, shot, texts=("body", "table.students", "table.goals"))
    for name in (HOSTILE, "Ann", "Bob"):
        assert name in seen.texts["table.students"] and name in seen.texts["table.goals"]
    assert "rq_min" in seen.texts["table.goals"] and "mi_non_adherent_max" in seen.texts["table.goals"]
    bob = next(line for line in seen.texts["table.goals"].splitlines() if line.startswith("Bob"))
    bob_goals = json.loads(bundles["bob"].read_text(encoding="utf-8"))["goals"]
    assert f"({bob_goals[1]['value']})" in bob and ("not met" in bob) == (not all(g["met"] for g in bob_goals))
    assert "Advice, persuasion or confrontation right after the patient's sustain talk" in seen.texts["body"]
    assert ADVICE in seen.texts["body"]
    assert seen.dialogs == [] and seen.requests == [seen.url]
    assert shot.stat().st_size > 20_000


def test_unknown_class_and_clashing_formats_are_user_errors(runner, cli, bundles):
    from simtrainer.cli import cli as command

    none = runner.invoke(command, ["class", "report", "Group A"])
    assert none.exit_code == 2 and "No class 'Group A'" in none.output and "class import" in none.output
    cli("class", "import", "--class", "Group A", str(bundles["bob"]))
    missing = runner.invoke(command, ["class", "report", "Group C"])
    assert missing.exit_code == 2 and "Known classes: Group A" in missing.output
    both = runner.invoke(command, ["class", "report", "Group A", "--json", "--format", "csv"])
    assert both.exit_code == 2 and "--json and --format csv" in both.output
