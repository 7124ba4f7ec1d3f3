"""The learned MI code and client-talk heads: decisions on the issue's trainee lines, uncertainty and runner-up,
`eval mi-codes` / `eval client-talk` on CSVs written here, and `train mi-coder --codes-only` on a small slice."""

import csv
import json
import os
from pathlib import Path

import pytest

from simtrainer.cli.coding import DEFAULT_ANNOMI
from simtrainer.feedback.mi import load_mi_coder
from simtrainer.feedback.mi.coder import default_model_dir
from simtrainer.feedback.mi.head import CODES, LinearHead
from tests.conftest import run_cli

# Lines quoted in issue 19 (what the old coder got wrong), so neither training nor evaluation data, with the code
# a trainer gives them; several are minimal pairs that differ in one code.
DRINKS = "I don't know. I drink most nights, I suppose."
ISSUE_LINES = [
    ("You are clearly an alcoholic.", DRINKS, "CONFRONT"),
    ("That's just denial talking.", DRINKS, "CONFRONT"),
    ("Don't you think that as a nurse you of all people should know better?", DRINKS, "CONFRONT"),
    ("Just throw the vape away.", "I keep picking it up without thinking.", "PERSUADE"),
    ("Great job cutting down last week!", "I only had two drinks on Saturday, down from most nights.", "AF"),
    ("It is your choice what you do next.", DRINKS, "AUTO"),
    ("Only you know what will work in your life.", DRINKS, "AUTO"),
    ("You're the only one who can decide… I'm not going to make that choice for you.", DRINKS, "AUTO"),
    ("You've been drinking most nights.", DRINKS, "SR"),
    ("You're an alcoholic.", DRINKS, "CONFRONT"),
    ("It's up to you.", DRINKS, "AUTO"),
]


@pytest.mark.parametrize(("text", "context", "code"), ISSUE_LINES)
def test_the_head_decides_the_issues_lines(text, context, code):
    codes = load_mi_coder().code(text, context)
    assert [c.code for c in codes] == [code], (text, codes)


def test_a_push_behind_autonomy_words_is_persuade_or_flagged():
    """The issue's "It's up to you, but you'd be crazy not to" is Persuade. The head leans to Autonomy on its
    first words; it must then at least say it is unsure, with Persuade next."""
    (code,) = load_mi_coder().code("It's up to you, but you'd be crazy not to.", DRINKS)
    assert code.code == "PERSUADE" or (code.uncertain and code.runner_up == "PERSUADE"), code


def test_every_code_names_its_runner_up_and_marks_low_confidence_uncertain():
    coder = load_mi_coder()
    assert 0 < coder.codes.threshold < 1  # measured in cross-validation and stored with the head
    seen = set()
    for text in ("Okay so, hmm, the thing with, like, the, you know.", "You've been drinking most nights.",
                 "Maybe think about it?", "What brings you in today?"):
        (code,) = coder.code(text, "Mm.")
        p = coder.code_probabilities(text, "Mm.")
        ranked = sorted(p, key=p.get, reverse=True)
        assert (code.code, code.runner_up) == tuple(ranked[:2])
        assert code.uncertain == (p[ranked[0]] < coder.codes.threshold)
        assert code.reason.startswith("uncertain: ") == code.uncertain
        seen.add(code.uncertain)
    (talk,) = coder.code_patient("I want to cut down.", "What would you like to do?")
    assert talk.runner_up in ("neutral", "sustain") and talk.runner_up != talk.code


def test_code_cli_prints_the_runner_up_and_uncertainty(cli):
    data = json.loads(cli("code", "You are clearly an alcoholic.", "--context", DRINKS, "--json").stdout)
    code = data["codes"][0]
    assert code["code"] == "CONFRONT" and code["runner_up"] in CODES and code["uncertain"] is False
    text = cli("code", "You are clearly an alcoholic.").output
    assert "runner-up:" in text
    coder = load_mi_coder()
    line = next(t for t in ("Maybe think about it?", "So, the forms.", "Right, okay, and the other thing then.",
                            "I was thinking about the weather.")
                if coder.code(t)[0].uncertain)
    assert "uncertain" in cli("code", line).output
    assert json.loads(cli("code", line, "--json").stdout)["codes"][0]["uncertain"] is True


def _write(path: Path, rows: list[tuple[str, ...]], last: str = "code") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["setting", "register", "previous", "utterance", last])
        writer.writerows(rows)
    return path


def test_eval_mi_codes_on_a_small_csv(cli, tmp_path):
    path = _write(tmp_path / "codes.csv", [
        ("weekend plans", "chat", "I went out again.", "What would you like to be different?", "Q"),
        ("weekend plans", "chat", "I went out again.", "You went out again.", "SR"),
        ("weekend plans", "chat", "", "Great job cutting down last week!", "AF"),
        ("weekend plans", "forum", "", "You are clearly an alcoholic.", "CONFRONT"),
        ("weekend plans", "forum", "", "It is your choice what you do next.", "PERSUADE"),  # labelled wrong on purpose
    ])
    report = json.loads(cli("eval", "mi-codes", str(path), "--json").stdout)
    assert report["n"] == 5 and set(report["per_label"]) == {"Q", "SR", "AF", "CONFRONT", "PERSUADE"}
    assert report["per_label"]["PERSUADE"]["recall"] == 0.0  # the head calls it AUTO
    assert {"gold": "PERSUADE", "predicted": "AUTO", "n": 1} in report["confusions"]
    assert 0 < report["macro_f1"] < 1 and set(report["per_label"]["Q"]) == {"precision", "recall", "f1", "support"}
    text = cli("eval", "mi-codes", str(path)).output
    assert "macro-F1" in text and "PERSUADE" in text and "most frequent confusions" in text


def test_eval_client_talk_on_a_small_csv(cli, tmp_path):
    path = _write(tmp_path / "talk.csv", [
        ("weekend plans", "speech", "What would you like to do?", "I want to cut down.", "change"),
        ("weekend plans", "speech", "Will you stop?", "I'm not going to stop drinking.", "sustain"),
        ("weekend plans", "chat", "How was the week?", "It was Tuesday when it rained.", "neutral"),
    ], last="talk")
    report = json.loads(cli("eval", "client-talk", str(path), "--json").stdout)
    assert report["n"] == 3 and set(report["per_label"]) == {"change", "neutral", "sustain"}
    assert report["per_label"]["change"]["support"] == 1


def test_eval_commands_refuse_bad_csvs(tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("text,codes\nHi,Q\n")
    result = run_cli("eval", "mi-codes", str(wrong))
    assert result.returncode == 2 and "lacks the column" in result.stderr + result.stdout
    odd = _write(tmp_path / "odd.csv", [("x", "chat", "", "Hello.", "HELLO")])
    result = run_cli("eval", "mi-codes", str(odd))
    assert result.returncode == 2 and "unknown code" in result.stderr + result.stdout
    result = run_cli("eval", "client-talk", str(tmp_path / "absent.csv"))
    assert result.returncode == 2 and "does not exist" in result.stderr + result.stdout


ANNOMI = Path(os.environ.get("ANNOMI_DIR") or DEFAULT_ANNOMI) / "AnnoMI-full-train.csv"


@pytest.mark.skipif(not ANNOMI.is_file(), reason=f"the AnnoMI data set is not at {ANNOMI}")
def test_train_codes_only_on_a_small_slice(tmp_path):
    """Rebuild both heads from a two-setting corpus and two AnnoMI transcripts; the result loads and codes."""
    with ANNOMI.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["transcript_id"] in {"0", "1"}]
    annomi = tmp_path / "slice.csv"
    with annomi.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = default_model_dir() / "corpus"
    for kind, pattern in (("code", "a-*.csv"), ("talk", "client-*.csv")):
        with sorted(source.glob(pattern))[0].open(newline="", encoding="utf-8") as handle:
            picked = list(csv.DictReader(handle))
        by_setting = {}
        for r in picked:
            by_setting.setdefault(r["setting"], []).append(r)
        keep = [r for setting in sorted(by_setting)[:2] for r in by_setting[setting][:40]]
        _write(corpus / (pattern.replace("*", "01")), [tuple(r[k] for k in ("setting", "register", "previous",
                                                                                "utterance", kind)) for r in keep],
               last=kind)
    out = tmp_path / "model"
    shipped = {p.name: p.stat().st_mtime_ns for p in default_model_dir().iterdir() if p.is_file()}
    result = run_cli("train", "mi-coder", "--codes-only", "--data", str(annomi), "--corpus", str(corpus),
                     "--out", str(out), "--folds", "2")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert 0 <= figures["code_head"]["corpus_held_out_setting"]["macro_f1"] <= 1
    meta = json.loads((out / "meta.json").read_text())
    assert meta["code_head"]["counts"]["corpus"] and meta["talk_head"]["counts"]["annomi"]
    assert "uncertain_below" in meta["code_head"] and meta["version"] >= 7
    head = LinearHead(out, "codes")
    assert head.labels == CODES
    coder = load_mi_coder(out)
    assert coder.code("What brings you in today?")[0].code in CODES
    # the shipped model folder was only read
    assert {p.name: p.stat().st_mtime_ns for p in default_model_dir().iterdir() if p.is_file()} == shipped


def test_a_seek_phrased_as_a_question_is_also_a_question():
    """Agenda setting is Seek by MITI; asked as a question it also counts as one (R:Q, CBT micro-skills)."""
    codes = load_mi_coder().code("What would you like to put on the agenda today?")
    assert [c.code for c in codes] == ["SEEK", "Q"] and codes[1].detail in ("open", "closed")
    assert [c.code for c in load_mi_coder().code("Let's work out together what to look at first.")] == ["SEEK"]
