"""`exercise validate / show / submit` and `practice --exercise`: a student runs a pack, sees progress and limits,
and hands in a bundle the instructor side reads back."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, run_cli

from simtrainer.classroom.bundle import read_bundle
from simtrainer.classroom.goals import evaluate
from simtrainer.classroom.pack import load_pack
from simtrainer.cli import exercise as exercise_cli

EXERCISES = REPO / "exercises"
MI = EXERCISES / "mi-reflect-first.toml"
DEARMAN = EXERCISES / "dearman-group-project.toml"

LINES = [
    "It sounds like coming here was your sister's idea more than yours.",
    "What do you make of her worry?",
    "You want your mornings with the kids to feel calmer.",
    "So the wine is how you come down after twelve hours of alarms.",
    "You're not sure it's a problem, and you're also wondering.",
    "What would you like to be different?",
    "You care a lot about being there for Leo.",
    "Part of you misses running.",
    "You've thought about this more than you let on.",
    "Tell me more about the mornings.",
]


def flat(text: str) -> str:
    """Output with the terminal's line wrapping undone."""
    return " ".join(text.split())


def script(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "script.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("pack", sorted(EXERCISES.glob("*.toml")), ids=lambda p: p.stem)
def test_the_example_packs_validate(cli, pack):
    result = cli("exercise", "validate", str(pack))
    assert result.exit_code == 0
    loaded = load_pack(pack)
    assert result.output.startswith("OK ") and loaded.id in result.output and loaded.goals


def test_the_examples_cover_each_modality_and_one_ships_its_card():
    packs = [load_pack(p) for p in sorted(EXERCISES.glob("*.toml"))]
    assert sorted(p.card.modality for p in packs) == ["cbt", "dearman", "mi"]
    assert any(p.card_path is not None and p.card_path.parent == EXERCISES / "cards" for p in packs)


def test_validate_reports_the_problem_with_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(MI.read_text(encoding="utf-8").replace("rq_min", "rq_least"), encoding="utf-8")
    result = run_cli("exercise", "validate", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert "goal `rq_least` names no figure" in result.stderr and "rq_min/_max" in result.stderr
    assert f"{bad}: goals.rq_least (line " in result.stderr and "Traceback" not in result.stderr


def test_validate_lists_every_mistake(tmp_path):
    bad = tmp_path / "bad.toml"
    text = MI.read_text(encoding="utf-8")
    bad.write_text(text.replace("title =", "titel =").replace("min_turns = 4", 'min_turns = "four"')
                   .replace('scenario = "mi-alcohol-nurse"', 'scenario = "mi-alcohol-nurze"'), encoding="utf-8")
    result = run_cli("exercise", "validate", str(bad))
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("Error:") == 4 and "(and" not in result.stderr  # each on its own, not counted
    order = [result.stderr.index(where) for where in (f"{bad}: titel (line ", f"{bad}: scenario (line ",
                                                       f"{bad}: min_turns (line ", f"{bad}: title\n")]
    assert order == sorted(order)  # the misspelt key first, then in the file's order
    assert "unknown key `titel`" in result.stderr and "did you mean `title`?" in result.stderr
    assert "unknown scenario 'mi-alcohol-nurze'" in result.stderr and "Did you mean mi-alcohol-nurse?" in result.stderr and "add `title = ...`" in result.stderr
    goals = tmp_path / "goals.toml"
    goals.write_text(text.replace("rq_min =", "rq_minn =").replace("counts.SR_min", "counts.SRR_min"), encoding="utf-8")
    result = run_cli("exercise", "validate", str(goals))
    assert result.returncode == 2 and result.stderr.count("Error:") == 2
    assert f"{goals}: goals.rq_minn (line " in result.stderr and f"{goals}: goals.counts.SRR_min (line " in result.stderr


def test_show_prints_instructions_and_goals(cli):
    result = cli("exercise", "show", str(DEARMAN))
    assert result.exit_code == 0
    out = flat(result.output)
    assert "Ask Sam, in this conversation, to send a first draft" in out
    assert "skills.assert" in out and "ends after 8 turns or 15 minutes" in out
    data = json.loads(cli("exercise", "show", str(DEARMAN), "--json").stdout)
    assert data["id"] == "dearman-group-project" and data["scenario"]["shipped"].endswith("dearman-group-project.toml")
    assert data["pack_sha256"] == load_pack(DEARMAN).sha256
    assert {"key": "skills.describe", "rubric": "dearman", "figure": "checklist.describe", "op": "==",
            "threshold": True, "text": "checklist.describe = yes"} in data["goals"]


def test_practice_exercise_stops_at_max_turns_and_reports_goals(cli, tmp_path):
    result = cli("practice", "--exercise", str(MI), "--script", str(script(tmp_path, LINES)), "--json", "-m", "fake",
                 "--trainee", "Ana")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["summary"]["trainee_turns"] == 8  # the pack's max_turns, of 10 script lines
    assert "Stopping: the exercise ends after 8 of your turns." in result.stderr
    assert "(2 script lines left unused)" in result.stderr
    exercise = data["exercise"]
    assert exercise["id"] == "mi-reflect-first" and exercise["pack_sha256"] == load_pack(MI).sha256
    assert exercise["goals"] == evaluate(list(load_pack(MI).goals), data["summary"])
    assert exercise["goals_total"] == 4 and exercise["goals_met"] == sum(g["met"] for g in exercise["goals"])
    assert exercise["stopped"] == "the exercise ends after 8 of your turns"


def test_practice_exercise_shows_instructions_progress_and_results(cli, tmp_path):
    result = cli("practice", "--exercise", str(MI), "--script", str(script(tmp_path, LINES[:2])), "-m", "fake")
    assert result.exit_code == 0
    progress = [line for line in result.stdout.splitlines() if line.strip().startswith("goals:")]
    assert len(progress) == 2 and "rq" in progress[0] and progress[1].rstrip().endswith("turn 2 of 8")
    out = flat(result.stdout)
    assert out.index("Exercise: Reflect before you ask") < out.index("Dana's sister pushed her") < out.index("Dana:")
    assert "of 4 goals met." in out and "exercise asks for at least 4 of your turns; this session has 2" in out
    assert "simtrainer exercise submit" in out
    assert "no trainee name is set" in flat(result.stderr)


def test_practice_exercise_time_limit(cli, tmp_path, monkeypatch):
    pack = tmp_path / "quick.toml"
    pack.write_text(MI.read_text(encoding="utf-8").replace("max_turns = 8", "time_limit_min = 0.0001"),
                    encoding="utf-8")
    ticks = iter(range(10_000))  # each reading of the clock a second later: a turn takes longer than 6 ms
    monkeypatch.setattr(exercise_cli, "time", SimpleNamespace(monotonic=lambda: float(next(ticks))))
    result = cli("practice", "--exercise", str(pack), "--script", str(script(tmp_path, LINES[:3])), "--json",
                 "-m", "fake")
    data = json.loads(result.stdout)
    assert data["summary"]["trainee_turns"] == 1
    assert "time limit of 0.0001 minutes is up" in data["exercise"]["stopped"]


def test_practice_exercise_refusals(cli, tmp_path):
    both = cli("practice", "--exercise", str(MI), "--scenario", "mi-alcohol-nurse", "--script",
               str(script(tmp_path, LINES[:1])))
    assert both.exit_code == 2 and "cannot be combined with --scenario" in both.stderr
    missing = cli("practice", "--exercise", str(tmp_path / "nope.toml"), "-m", "fake")
    assert missing.exit_code == 2 and "no such exercise pack" in missing.stderr


def test_a_shipped_card_session_hands_in(cli, tmp_path):
    lines = ["Sam, you haven't sent your slides and the talk is on Friday.", "I feel worried we won't be ready.",
             "I need a first draft of your four slides by Wednesday evening."]
    data = json.loads(cli("practice", "--exercise", str(DEARMAN), "--script", str(script(tmp_path, lines)),
                          "--json", "-m", "fake", "--trainee", "Bo").stdout)
    assert data["scenario"] == "dearman-group-project"
    out = tmp_path / "bo.json"
    result = cli("exercise", "submit", data["session_id"], "-o", str(out))
    assert result.exit_code == 0 and "for Bo" in result.stdout
    bundle = read_bundle(out)
    assert bundle["session"]["scenario"] == "dearman-group-project" and bundle["session"]["model"] == "fake"
    assert set(bundle["session"]["scorers"]) == {"dearman"}  # a DEAR MAN session is scored on DEAR MAN alone
    assert [g["key"] for g in bundle["goals"]] == ["skills.describe", "skills.express", "skills.assert",
                                                   "skills_shown_min", "hardening_total_max"]
    assert bundle["goals"] == data["exercise"]["goals"]


def test_submit_refusals(cli, tmp_path):
    from simtrainer.storage import open_store

    plain_run = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script(tmp_path, LINES[:1])),
                               "--json", "-m", "fake").stdout)
    no_pack = cli("exercise", "submit", plain_run["session_id"], "-o", str(tmp_path / "x.json"))
    assert no_pack.exit_code == 2 and "not run with an exercise pack" in no_pack.stderr

    store = open_store()
    record = load_pack(MI).record()

    def session(status: str) -> str:
        sid = store.create_session(scenario_id="mi-alcohol-nurse", scenario_title="t", modality="mi", model="fake",
                                   trainee="Ana", exercise=record)
        store.add_turn(sid, "patient", "Hello.")
        if status == "abandoned":
            store.end_session(sid, None)
        elif status == "interrupted":
            store.add_turn(sid, "trainee", "Hi.")
            store.interrupt_session(sid)
        return sid

    cases = {"abandoned": "ended before your first turn", "interrupted": "still in progress (interrupted)",
             "active": "still in progress (active)"}
    for status, message in cases.items():
        result = cli("exercise", "submit", session(status), "-o", str(tmp_path / f"{status}.json"))
        assert result.exit_code == 2 and message in result.stderr, status
    assert "practice --resume" in cli("exercise", "submit", session("interrupted"), "-o", "x.json").stderr
    assert not list(tmp_path.glob("*.json"))

    anonymous = json.loads(cli("practice", "--exercise", str(MI), "--script", str(script(tmp_path, LINES[:1])),
                               "--json", "-m", "fake").stdout)["session_id"]
    nameless = cli("exercise", "submit", anonymous, "-o", str(tmp_path / "n.json"))
    assert nameless.exit_code == 2 and "without a trainee name" in nameless.stderr and "--trainee" in nameless.stderr
    assert cli("exercise", "submit", anonymous, "-o", str(tmp_path / "n.json"), "--trainee", "Cy").exit_code == 0
    assert read_bundle(tmp_path / "n.json")["trainee"] == "Cy"
    folder = cli("exercise", "submit", anonymous, "-o", str(tmp_path), "--trainee", "Cy")
    assert folder.exit_code == 2 and "is a folder" in folder.stderr
    unknown = cli("exercise", "submit", "no-such-session", "-o", str(tmp_path / "u.json"))
    assert unknown.exit_code == 2 and "No session" in unknown.stderr


@pytest.mark.model
def test_a_student_runs_the_pack_on_the_real_model_and_hands_in(tmp_path):
    """The real default GGUF end to end: practice --exercise --script, then submit; the bundle reads back and its
    goal results are those of the saved summary."""
    result = run_cli("practice", "--exercise", str(MI), "--script", str(script(tmp_path, LINES[:4])), "--json",
                     "--trainee", "Ana Lima", "--seed", "7")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "smollm2-135m" and data["trainee"] == "Ana Lima"
    replies = [t["text"] for t in data["turns"][1:] if t["speaker"] == "patient"]
    assert len(replies) == 4 and all(r.strip() for r in replies)
    out = tmp_path / "hand-in.json"
    submitted = run_cli("exercise", "submit", data["session_id"], "-o", str(out))
    assert submitted.returncode == 0, submitted.stderr
    bundle = read_bundle(out)
    pack = load_pack(MI)
    assert bundle["trainee"] == "Ana Lima" and bundle["exercise"]["pack_sha256"] == pack.sha256
    assert bundle["exercise"]["id"] == "mi-reflect-first" and bundle["exercise"]["max_turns"] == 8
    assert bundle["session"]["id"] == data["session_id"] and bundle["session"]["seed"] == 7
    assert bundle["session"]["status"] == "ended" and bundle["session"]["model"] == "smollm2-135m"
    assert bundle["turns"] == data["turns"] and bundle["summary"] == data["summary"]
    assert bundle["goals"] == evaluate(list(pack.goals), data["summary"]) == data["exercise"]["goals"]
    assert bundle["goals_met"] == sum(g["met"] for g in bundle["goals"]) and bundle["goals_total"] == 4
    mi = data["summary"]["rubrics"]["mi"]
    by_key = {g["key"]: g for g in bundle["goals"]}
    assert by_key["pct_cr_min"]["value"] == mi["pct_cr"]
    assert by_key["mi_non_adherent_max"]["met"] == (mi["mi_non_adherent"] <= 0)
    assert by_key["counts.SR_min"]["value"] == mi["counts"]["SR"]


def test_an_interrupted_exercise_session_resumes_with_its_pack(cli, tmp_path):
    import shutil

    from simtrainer.storage import open_store

    folder = tmp_path / "pack"
    shutil.copytree(EXERCISES / "cards", folder / "cards")
    path = Path(shutil.copy(DEARMAN, folder))
    pack = load_pack(path)
    store = open_store()

    def interrupted() -> str:
        sid = store.create_session(scenario_id=pack.card.id, scenario_title=pack.card.title, modality="dearman",
                                   model="fake", trainee="Di", exercise=pack.record())
        store.add_turn(sid, "patient", pack.card.opening_line, {"opening": True})
        store.add_turn(sid, "trainee", "Sam, your slides are not in yet and the talk is on Friday.")
        store.interrupt_session(sid)
        return sid

    lines = script(tmp_path, [f"I need the draft by Wednesday evening, point {n}." for n in range(10)])
    sid = interrupted()
    result = cli("practice", "--resume", sid, "--script", str(lines), "--json", "-m", "fake")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["scenario"] == "dearman-group-project"  # the pack's own card, found again through the pack
    assert data["summary"]["trainee_turns"] == 8 and data["exercise"]["stopped"].endswith("8 of your turns")
    assert cli("exercise", "submit", sid, "-o", str(tmp_path / "di.json")).exit_code == 0

    changed = interrupted()
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited after the session started\n", encoding="utf-8")
    refused = cli("practice", "--resume", changed, "--script", str(lines), "-m", "fake")
    assert refused.exit_code == 2 and "has changed since this session started" in flat(refused.stderr)
    assert store.get_session(changed)["status"] == "interrupted"


@pytest.mark.model
def test_a_pack_points_the_class_at_a_shared_server(llama_server, cli, tmp_path):
    """The pack alone sends the session to a real OpenAI-compatible server (llama.cpp's, on loopback)."""
    from simtrainer.config import config_file

    config_file().parent.mkdir(parents=True, exist_ok=True)  # a busy machine serves slowly: wait, don't fail
    config_file().write_text("timeout_s = 600\nreply_timeout_s = 1800\n", encoding="utf-8")
    pack = tmp_path / "lab.toml"
    pack.write_text(MI.read_text(encoding="utf-8").replace(
        "[goals]", f'[model]\nbase_url = "{llama_server}"\nmodel = "smol"\n\n[goals]'), encoding="utf-8")
    shown = json.loads(cli("exercise", "show", str(pack), "--json").stdout)
    assert shown["model"] == llama_server
    result = cli("practice", "--exercise", str(pack), "--script", str(script(tmp_path, LINES[:1])), "--json",
                 "--trainee", "Ed")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "exercise-mi-reflect-first"
    assert data["turns"][-1]["speaker"] == "patient" and data["turns"][-1]["text"].strip()
    assert cli("exercise", "submit", data["session_id"], "-o", str(tmp_path / "ed.json")).exit_code == 0
    assert read_bundle(tmp_path / "ed.json")["session"]["model"] == "exercise-mi-reflect-first"


def test_the_terminal_loop_stops_at_the_turn_limit(cli, tmp_path):
    pack = tmp_path / "two.toml"
    pack.write_text(MI.read_text(encoding="utf-8").replace("min_turns = 4\nmax_turns = 8", "max_turns = 2"),
                    encoding="utf-8")
    result = cli("practice", "--exercise", str(pack), "-m", "fake", "--trainee", "Fa",
                 input="\n".join(LINES[:4]) + "\n")
    assert result.exit_code == 0
    out = flat(result.stdout)
    assert "Stopping: the exercise ends after 2 of your turns." in out and "(2 trainee turns)" in out
    assert LINES[2] not in out


def test_pack_text_reaches_the_terminal_inert(cli, tmp_path):
    pack = tmp_path / "odd.toml"
    text = MI.read_text(encoding="utf-8")
    text = text.replace('title = "Reflect before you ask"', 'title = "Reflect [bold red]first[/] \\u001b[2J now"')
    text = text.replace("Dana's sister pushed her", "\\u001b]8;;http://x\\u0007link\\u001b]8;;\\u0007 [b]Dana[/b]'s "
                                                   "sister pushed her")
    pack.write_text(text, encoding="utf-8")
    for args in (("exercise", "show", str(pack)), ("exercise", "validate", str(pack)),
                 ("practice", "--exercise", str(pack), "--script", str(script(tmp_path, LINES[:1])), "-m", "fake")):
        result = cli(*args)
        assert result.exit_code == 0 and "\x1b" not in result.stdout and "\x07" not in result.stdout, args
        assert "[bold red]first[/]" in result.stdout  # shown as written, never parsed as markup
    assert "[b]Dana[/b]'s sister" in flat(cli("exercise", "show", str(pack)).stdout)
