"""Exercise packs: validation names file, field, line and fix; goals read the summary's own keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simtrainer.classroom.goals import Goal, evaluate, figures, parse_goals, progress_line
from simtrainer.classroom.pack import load_pack
from simtrainer.errors import UserError
from simtrainer.resources import data_folder

MI_PACK = """\
id = "mi-reflect"
title = "Reflect before you ask"
instructions = "Answer each worry with a reflection before any question."
scenario = "mi-alcohol-nurse"
min_turns = 2
max_turns = 6

[goals]
rq_min = 1.0
pct_cr_min = 0.4
mi_non_adherent_max = 0
counts.SR_min = 1
"""


def write(folder: Path, text: str, name: str = "pack.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> UserError:
    with pytest.raises(UserError) as caught:
        load_pack(path)
    return caught.value


def test_a_valid_pack_loads_with_its_goals_and_hash(tmp_path):
    pack = load_pack(write(tmp_path, MI_PACK))
    assert pack.id == "mi-reflect" and pack.card.id == "mi-alcohol-nurse" and pack.card_path is None
    assert [(g.figure, g.op, g.threshold) for g in pack.goals] == [
        ("rq", ">=", 1.0), ("pct_cr", ">=", 0.4), ("mi_non_adherent", "<=", 0), ("counts.SR", ">=", 1)]
    assert len(pack.sha256) == 64
    assert "mi-reflect" in pack.summary_line() and "2-6 turns" in pack.summary_line()
    edited = write(tmp_path / "b", MI_PACK.replace("max_turns = 6", "max_turns = 7"))
    assert load_pack(edited).sha256 != pack.sha256
    assert load_pack(write(tmp_path / "c", MI_PACK)).sha256 == pack.sha256  # the hash is of content, not place


@pytest.mark.parametrize(
    "change, what, field, fix",
    [
        (lambda t: t.replace('title = "Reflect before you ask"\n', ""), "`title` is missing", "title", "add `title"),
        (lambda t: t.replace("rq_min", "rq_mn"), "rq_mn` names no figure", "goals.rq_mn (line 9)",
         "rq_min/_max"),
        (lambda t: t.replace("max_turns = 6\n", ""), "needs an end", "max_turns", "add `max_turns = 10`"),
        (lambda t: t.replace('"mi-alcohol-nurse"', '"mi-nobody"'), "unknown scenario 'mi-nobody'",
         "scenario (line 4)", "mi-alcohol-nurse"),
        (lambda t: t.replace("min_turns = 2", "min_turns = 9"), "more than max_turns", "min_turns (line",
         "make min_turns at most max_turns"),
        (lambda t: t.replace("pct_cr_min = 0.4", 'pct_cr_min = "high"'), "needs a number", "goals.pct_cr_min",
         "pct_cr_min = 1"),
        (lambda t: t.replace("rq_min = 1.0", "rq = true"), "`rq` is a number figure", "goals.rq",
         "rq_min = ..."),
        (lambda t: t + "colour = 'blue'\n", "names no figure", "goals.colour (line 13)", "rq_min/_max"),
        (lambda t: t.replace("scenario =", "scenery ="), "unknown key `scenery`", "scenery (line 4)", "did you mean `scenario`?"),
        (lambda t: t.replace('id = "mi-reflect"', 'id = "MI reflect"'), "should match pattern", "id (line 1)",
         "lowercase"),
    ],
)
def test_validation_errors_name_file_field_and_fix(tmp_path, change, what, field, fix):
    path = write(tmp_path, change(MI_PACK))
    error = error_of(path)
    assert what in error.what
    assert error.where.startswith(str(path)) and field in error.where
    assert fix in error.fix


def test_an_unknown_goal_key_lists_the_valid_ones(tmp_path):
    error = error_of(write(tmp_path, MI_PACK.replace("rq_min", "reflection_ratio_min")))
    assert "reflection_ratio_min" in error.what
    for key in ("rq_min/_max", "pct_cr_min/_max", "mi_non_adherent_min/_max", "counts.CR_min/_max"):
        assert key in error.fix
    assert "total_min/_max" not in error.fix  # a CTRS figure is no goal of an MI scenario


def test_bad_toml_names_its_line(tmp_path):
    path = write(tmp_path, MI_PACK.replace("max_turns = 6", "max_turns = = 6"))
    error = error_of(path)
    assert "not valid TOML" in error.what and error.where == f"{path}, line 6"


def test_file_problems(tmp_path):
    assert "no such exercise pack" in error_of(tmp_path / "missing.toml").what
    assert "folder" in error_of(tmp_path).what
    (tmp_path / "latin1.toml").write_bytes("title = 'caf\xe9'".encode("latin-1"))
    assert "UTF-8" in error_of(tmp_path / "latin1.toml").what


def test_a_shipped_card_wins_and_is_hashed(tmp_path):
    folder = tmp_path / "pack"
    card = (data_folder("scenarios") / "mi-vaping-teen.toml").read_text(encoding="utf-8")
    card = card.replace('id = "mi-vaping-teen"', 'id = "mi-class-card"')
    write(folder / "cards", card, "any-name.toml")
    path = write(folder, MI_PACK.replace('"mi-alcohol-nurse"', '"mi-class-card"'))
    pack = load_pack(path)
    assert pack.card.id == "mi-class-card" and pack.card_path == folder / "cards" / "any-name.toml"
    before = pack.sha256
    write(folder / "cards", card.replace('opening_line = "', 'opening_line = "Hm. ', 1), "any-name.toml")
    edited = load_pack(path).sha256
    assert edited != before  # the shipped card is part of the hash
    write(folder / "cards", MI_PACK, "someone-elses.toml")  # another file in cards/ (here: no card) does not count
    assert load_pack(path).sha256 == edited
    broken = card.replace('opening_line = "', 'opening_lime = "')
    write(folder / "cards", broken, "any-name.toml")
    error = error_of(path)
    assert "card for 'mi-class-card' has errors" in error.what and error.where.endswith("any-name.toml")


def test_model_forms(tmp_path, gguf_path):
    from simtrainer.config import Settings

    assert load_pack(write(tmp_path / "a", MI_PACK)).model_for(Settings()) == (Settings(), None)
    text = MI_PACK.replace("[goals]", 'model = "http://127.0.0.1:9/v1"\n\n[goals]')
    pack = load_pack(write(tmp_path / "b", text))
    settings, name = pack.model_for(Settings())
    assert name == "exercise-mi-reflect" and settings.models[name].base_url == "http://127.0.0.1:9/v1"
    assert settings.models[name].backend == "openai" and pack.model_text == "http://127.0.0.1:9/v1"
    table = MI_PACK.replace("[goals]", '[model]\nbase_url = "http://10.0.0.5:8000/v1"\nmodel = "qwen"\n\n[goals]')
    settings, name = load_pack(write(tmp_path / "c", table)).model_for(Settings())
    assert settings.models[name].model == "qwen"
    shutil.copy(gguf_path, tmp_path / "d.gguf")
    local = load_pack(write(tmp_path, MI_PACK.replace("[goals]", 'model = "d.gguf"\n\n[goals]'), "d.toml"))
    assert local.model_for(Settings())[1] == str(tmp_path / "d.gguf")
    missing = error_of(write(tmp_path / "e", MI_PACK.replace("[goals]", 'model = "gone.gguf"\n\n[goals]')))
    assert "does not exist" in missing.what and "model (line 7)" in missing.where
    unknown = error_of(write(tmp_path / "f", MI_PACK.replace("[goals]", 'model = "no-such-model"\n\n[goals]')))
    assert "Unknown model 'no-such-model'" in unknown.what and "smollm2-135m" in unknown.fix
    bad_url = error_of(write(tmp_path / "g", MI_PACK.replace("[goals]", 'model = "ftp://x/v1"\n\n[goals]')))
    assert "http://" in bad_url.what


def test_dearman_skills_and_ctrs_goals():
    goals = parse_goals({"skills": ["describe", "assert"], "skills_shown_min": 3}, "dearman", str)
    assert [(g.figure, g.op, g.threshold) for g in goals] == [
        ("checklist.describe", "==", True), ("checklist.assert", "==", True), ("skills_shown", ">=", 3)]
    with pytest.raises(UserError, match="'shout' is no DEAR MAN skill") as caught:
        parse_goals({"skills": ["describe", "shout"]}, "dearman", str)
    assert "negotiate" in caught.value.fix
    ctrs = parse_goals({"total_min": 40, "indicators": {"agenda_set": True}, "microskills": {"questions_min": 1}},
                       "cbt", str)
    assert [(g.rubric, g.figure) for g in ctrs] == [("ctrs", "total"), ("ctrs", "indicators.agenda_set"),
                                                     ("ctrs", "microskills.questions")]
    with pytest.raises(UserError, match="names no figure"):  # a CBT session is not scored on MITI's figures
        parse_goals({"mi": {"rq_min": 1}}, "cbt", str)
    with pytest.raises(UserError, match="names no figure"):
        parse_goals({"total_min": 40}, "mi", str)
    with pytest.raises(UserError, match="yes/no"):
        parse_goals({"competent_min": 1}, "cbt", str)


def test_every_goal_names_a_figure_the_real_summaries_write():
    """The figures come from the rubrics' own summaries: each one is where `evaluate` looks for it."""
    from simtrainer.classroom.goals import _empty_summary, rubrics_for, value_of

    for modality in ("mi", "dearman", "cbt"):
        summary = {"trainee_turns": 0, "rubrics": {r: _empty_summary(r) for r in rubrics_for(modality)}}
        known = figures(modality)
        assert set(known) - {"session"} == {{"mi": "mi", "dearman": "dearman", "cbt": "ctrs"}[modality]}
        for rubric, kinds in known.items():
            for path, kind in kinds.items():
                value = value_of(Goal("k", rubric, path, ">=", 0), summary)
                assert value is None or isinstance(value, bool) == (kind == "flag"), (rubric, path)


def test_evaluate_and_progress():
    goals = parse_goals({"rq_min": 1.0, "mi_non_adherent_max": 0, "pct_cr_min": 0.4, "trainee_turns_min": 3},
                        "mi", str)
    summary = {"trainee_turns": 2, "rubrics": {"mi": {"rq": None, "reflections": 2, "pct_cr": 0.25,
                                                      "mi_non_adherent": 1}}}
    results = evaluate(goals, summary)
    assert [(r["key"], r["value"], r["met"]) for r in results] == [
        ("rq_min", None, True),  # reflections and no question: R:Q is as high as it gets
        ("mi_non_adherent_max", 1, False), ("pct_cr_min", 0.25, False), ("trainee_turns_min", 2, False)]
    assert evaluate(goals[:1], {"rubrics": {"mi": {"rq": None, "reflections": 0}}})[0]["met"] is False
    assert evaluate(goals, None)[0]["met"] is False
    line = progress_line(results)
    assert line.startswith("✓ rq – (≥ 1.0)") and "✗ mi_non_adherent 1 (≤ 0)" in line


def test_a_shipped_example_is_found_by_name(tmp_path, monkeypatch):
    example = load_pack("mi-reflect-first")
    assert example.path == data_folder("exercises") / "mi-reflect-first.toml"
    assert load_pack("mi-reflect-first.toml").sha256 == example.sha256
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MI_PACK, "mi-reflect-first.toml")  # a file of that name here wins over the example
    assert load_pack("mi-reflect-first.toml").id == "mi-reflect"
    error = error_of(tmp_path / "mi-reflect-firs")
    assert "no such exercise pack" in error.what and "dearman-group-project" in error.fix


def test_the_examples_ship_in_the_wheel_like_scenarios():
    import tomllib

    from conftest import REPO

    include = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"][
        "targets"]["wheel"]["force-include"]
    assert include["exercises"] == "simtrainer/_data/exercises" and include["scenarios"] == "simtrainer/_data/scenarios"
    assert (data_folder("exercises") / "cards").is_dir()


def test_goals_no_session_can_meet_are_refused_each_with_its_place(tmp_path):
    """A share written as a percentage, a minimum above its maximum, more turns than the exercise allows and a
    negative count all pass the key check but can never be met; all four are reported, each at its line."""
    text = MI_PACK.replace("pct_cr_min = 0.4", "pct_cr_min = 40").replace(
        "mi_non_adherent_max = 0", "mi_non_adherent_max = -1\ncounts.SR_max = 0\ntrainee_turns_min = 9")
    error = error_of(write(tmp_path, text))
    messages = [f"{p.what} | {p.where} | {p.fix}" for p in error.problems]
    assert len(messages) == 4, messages
    share, negative, turns, above = messages
    assert "goal `pct_cr_min = 40` is out of range: `pct_cr` runs from 0 to 1" in share and "write 0.4" in share
    assert "goals.pct_cr_min (line 10)" in share
    assert "`mi_non_adherent_max = -1` is out of range" in negative
    assert "goal `counts.SR_min = 1` is above `counts.SR_max = 0`" in above and "(line 14)" in above
    assert "asks for more turns than max_turns (6)" in turns and "(line 13)" in turns
    ok = MI_PACK.replace("pct_cr_min = 0.4", "pct_cr_min = 1\npct_cr_max = 1\ntrainee_turns_min = 6")
    assert {g.key for g in load_pack(write(tmp_path, ok, "ok.toml")).goals} >= {"pct_cr_min", "pct_cr_max"}


def test_goals_are_checked_when_the_scenario_is_unknown(tmp_path):
    """A misspelt scenario does not hide the goal mistakes: its prefix says the modality."""
    error = error_of(write(tmp_path, MI_PACK.replace("mi-alcohol-nurse", "mi-alcohol-nurze").replace("rq_min", "rq_mn")))
    assert [p.where.split(": ")[1].split(" ")[0] for p in error.problems] == ["scenario", "goals.rq_mn"]
