"""The moments students slip, found in coded turns; and DEAR MAN and CBT classes' figures from real runs."""

from __future__ import annotations

import json

import pytest

from simtrainer.classroom.bundle import write_bundle
from simtrainer.classroom.slips import PATTERNS, session_slips

DETAIL = {"Q": "closed", "CR": "complex", "SR": "simple", "change": "client talk", "sustain": "client talk",
          "neutral": "client talk"}


def turns(*spec: tuple) -> list[dict]:
    """(speaker, text, code, ...) as `practice --json` prints turns; 'Q open' is a code with its detail."""
    out = []
    for n, (speaker, text, *codes) in enumerate(spec, start=1):
        coded = []
        for code in codes:
            rubric, _, name = code.rpartition(":")
            name, _, detail = name.partition(" ")
            coded.append({"rubric": rubric or "mi", "code": name, "detail": detail or DETAIL.get(name, ""),
                          "confidence": 0.9, "scorer": "test", "reason": ""})
        out.append({"turn": n, "speaker": speaker, "text": text, "codes": coded})
    return out


def found(turn_list: list[dict], rubrics: dict | None = None) -> dict:
    return session_slips({"turns": turn_list, "summary": {"rubrics": rubrics or {"mi": {}}}})


def test_advice_right_after_sustain_talk():
    hit = found(turns(("patient", "Everyone drinks on my unit.", "sustain"),
                      ("trainee", "You need to stop, full stop.", "CONFRONT")))
    assert hit["push_after_sustain"] == {"turn": 2, "before": "Everyone drinks on my unit.",
                                         "text": "You need to stop, full stop."}
    assert "push_after_sustain" not in found(turns(("patient", "Fine.", "neutral"),
                                                   ("trainee", "You should cut down.", "PERSUADE")))
    assert "push_after_sustain" not in found(turns(("patient", "Everyone drinks.", "sustain"),
                                                   ("trainee", "It's normal where you work.", "CR")))


def test_closed_question_runs_and_passed_over_change_talk():
    three = turns(("trainee", "Do you drink?", "Q closed"), ("patient", "Yes.", "neutral"),
                  ("trainee", "Every day?", "Q closed"), ("patient", "Mostly.", "neutral"),
                  ("trainee", "Wine?", "Q closed"))
    assert found(three)["closed_question_run"]["turn"] == 5
    broken = turns(("trainee", "Do you drink?", "Q closed"), ("trainee", "Every day?", "Q closed"),
                   ("trainee", "What do you enjoy about it?", "Q open"), ("trainee", "Wine?", "Q closed"))
    assert "closed_question_run" not in found(broken)
    passed = turns(("patient", "I'd like to sleep better.", "change"),
                   ("trainee", "Alcohol disrupts sleep.", "GI"))
    assert found(passed)["change_talk_passed_over"]["before"] == "I'd like to sleep better."
    for reply in (("trainee", "Sleep matters to you.", "CR"), ("trainee", "How would that look?", "Q open")):
        assert "change_talk_passed_over" not in found(turns(("patient", "I'd like to sleep better.", "change"),
                                                            reply))


def test_dearman_assert_before_describe_and_threats():
    dearman = {"dearman": {"checklist": {}}}
    early = turns(("trainee", "I need you to turn it down.", "dearman:assert"),
                  ("trainee", "The music ran past one on three nights.", "dearman:describe"))
    assert found(early, dearman)["assert_before_describe"]["turn"] == 1
    ordered = turns(("trainee", "The music ran past one last night.", "dearman:describe"),
                    ("trainee", "Please keep it down after eleven.", "dearman:assert"))
    assert "assert_before_describe" not in found(ordered, dearman)
    same = turns(("trainee", "It was loud till one, so please keep it down.", "dearman:describe", "dearman:assert"))
    assert "assert_before_describe" not in found(same, dearman)
    # the DEAR MAN coder's threat, insult and ultimatum flags mark the moment
    for line, flag in (("If you don't turn it down, I'll call the landlord.", "threat"),
                       ("Keep it down or else.", "ultimatum"), ("You're a selfish slob.", "insult")):
        hit = found(turns(("patient", "It's my flat too.", "sustain"), ("trainee", line, f"dearman:{flag}")), dearman)
        assert hit["threat"] == {"turn": 2, "before": "It's my flat too.", "text": line}, line
    for line in ("If you don't mind, could we agree on eleven?", "I'll appreciate it a lot."):
        assert "threat" not in found(turns(("trainee", line, "dearman:reinforce")), dearman), line
    loud = turns(("trainee", "If you don't stop, I'll leave.", "dearman:threat"))
    assert "threat" not in found(loud)  # not a DEAR MAN session


def test_cbt_agenda_and_feedback_from_the_summary():
    said = turns(("trainee", "How has the week been?"), ("patient", "Hard."), ("trainee", "See you next week."))
    none = {"ctrs": {"indicators": {"agenda_set": False, "feedback_asked": False}}}
    hit = found(said, none)
    assert hit["no_agenda"]["text"] == "How has the week been?" and hit["no_feedback"]["text"] == "See you next week."
    both = found(said, {"ctrs": {"indicators": {"agenda_set": True, "feedback_asked": True}}})
    assert not {"no_agenda", "no_feedback"} & set(both)
    assert len({p.id for p in PATTERNS}) == len(PATTERNS)


def test_long_and_odd_turns_are_read_safely():
    def closed(text: str, **extra) -> dict:
        return {"speaker": "trainee", "text": text, "codes": [{"rubric": "mi", "code": "Q", "detail": "closed"}],
                **extra}

    long = closed("word " * 200)
    assert "closed_question_run" not in found([long, "not a turn", {"speaker": "trainee", "text": "b", "codes": None},
                                               long, long])  # "b" broke the run
    assert found([long, long, closed("c", turn=7)])["closed_question_run"] == {"turn": 7, "before": "", "text": "c"}
    example = found([long, long, long])["closed_question_run"]
    assert example["turn"] == 3 and len(example["text"]) == 160 and example["text"].endswith("…")


@pytest.mark.parametrize("scenario, lines, rubric", [
    ("dearman-roommate-noise", ["The music was on past one last night and the night before.",
                                "I feel exhausted at work.", "If you don't keep it down, I'll call the landlord."],
     "dearman"),
    ("cbt-panic-supermarket", ["What went through your mind in the supermarket?",
                               "Could we try a small experiment this week?"], "ctrs"),
])
def test_dearman_and_cbt_classes(cli, tmp_path, scenario, lines, rubric):
    script = tmp_path / "lines.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files, summaries = [], {}
    for n, trainee in enumerate(("Dee", "Eve")):
        run = json.loads(cli("practice", "-s", scenario, "--script", str(script), "--json", "-m", "fake",
                              "--seed", "7").stdout)
        if trainee == "Eve":  # Eve made no threat
            run["turns"] = [t for t in run["turns"] if "landlord" not in t["text"]]
        summaries[trainee] = run["summary"]
        files.append(tmp_path / f"{trainee}.json")
        write_bundle({"created_at": f"2026-12-01T1{n}:00:00+00:00", "simtrainer_version": "0.1.0",
                      "exercise": {"id": scenario, "title": scenario, "pack_sha256": "c3" * 32}, "trainee": trainee,
                      "session": {"id": run["session_id"], "scenario": scenario}, "turns": run["turns"],
                      "summary": run["summary"], "goals": [{"key": "min_turns", "met": True}]}, files[-1])
    assert cli("class", "import", "--class", "Lab", *map(str, files)).exit_code == 0
    data = json.loads(cli("class", "report", "Lab", "--json").stdout)
    assert [(s["trainee"], s["goals_met"], s["goals_total"]) for s in data["students"]] == [("Dee", 1, 1),
                                                                                           ("Eve", 1, 1)]
    dee = data["students"][0]
    scores = summaries["Dee"]["rubrics"][rubric]
    spread = {d["figure"]: d for d in data["distributions"] if d["rubric"] == rubric}
    slips = {p["id"]: p for p in data["slips"]}
    if rubric == "dearman":
        assert dee["figures"]["dearman"]["skills"] == [k for k, v in scores["checklist"].items() if v]
        assert dee["figures"]["dearman"]["skills_shown"] == scores["skills_shown"]
        assert spread["skills_shown"]["students"] == 2
        assert slips["threat"]["trainees"] == ["Dee"] and slips["threat"]["example"]["text"] == lines[2]
    else:
        assert (dee["figures"]["ctrs"]["total"], dee["figures"]["ctrs"]["competent"]) == (scores["total"],
                                                                                          scores["competent"])
        assert spread["total"]["median"] == scores["total"]
        assert ("no_feedback" in slips) == (not scores["indicators"]["feedback_asked"])
    html = cli("class", "report", "Lab", "--format", "html").output
    assert "Dee" in html and "Eve" in html and "Students meeting each goal" in html


def test_escape_sequences_in_bundles_never_reach_the_terminal(cli, tmp_path):
    """Names, titles and goal keys are the students' (or anyone's) text: every sink gets them inert."""
    nasty = "\x1b]0;owned\x07\x1b[2J"
    path = tmp_path / f"{nasty}.json"
    write_bundle({"created_at": "2026-12-01T10:00:00+00:00", "simtrainer_version": "0.1.0",
                  "exercise": {"id": f"ex{nasty}", "title": f"T{nasty}", "pack_sha256": "d4" * 32},
                  "trainee": f"Eve{nasty}", "session": {"id": "s1"},
                  "turns": turns(("trainee", f"Do you drink?{nasty}", "Q closed")) * 3,
                  "summary": {"rubrics": {"mi": {"rq": "high"}}}, "goals": [{"key": f"=rq{nasty}", "met": True}]},
                 path)
    outputs = [cli("class", "import", "--class", "Lab", str(path)).output, cli("class", "list").output]
    outputs += [cli("class", "report", "Lab", *args).output for args in
                ((), ("--format", "csv"), ("--format", "html"), ("--json",))]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out
    assert "into 'Lab': Eve\n" in outputs[0] and "Eve" in outputs[2]
    assert outputs[3].splitlines()[0].endswith(",goal:=rq,slips")  # control sequences dropped from a header cell  # a header cell is neutralised too
    report = json.loads(outputs[5])
    assert report["students"][0]["figures"] == {}  # "high" is no R:Q: the rubric is left out, not a crash
    assert report["slips"][0]["example"]["text"].startswith("Do you drink?")
