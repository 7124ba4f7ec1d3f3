"""--pseudonymise on exports and the progress page: the trainee's name, wherever it appears, becomes the stable
code `sessions report --pseudonymise` shows, and nothing else changes."""

import csv
import io
import json

import pytest

from simtrainer.review.pseudonym import pseudonym, pseudonymised

NAME = "Zelda Quimby"


@pytest.fixture
def session(cli, tmp_path) -> str:
    """A session of Zelda Quimby who says her name, with a note that uses it."""
    script = tmp_path / "lines.txt"
    script.write_text("Hi, I'm Zelda. What brings you in today?\nIt sounds like the shifts are exhausting.\n")
    sid = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m", "fake",
                         "--trainee", NAME).stdout)["session_id"]
    cli("sessions", "annotate", sid, "ZELDA, reflect before asking.", "--turn", "2", "--author", "Dr Supervisor")
    return sid


def _has_name(text: str) -> bool:
    return "zelda" in text.casefold() or "quimby" in text.casefold()


@pytest.mark.parametrize("fmt", ["json", "md", "csv"])
def test_export_shows_the_code_and_never_the_name(cli, session, fmt, tmp_path):
    plain = cli("sessions", "export", session, "--format", fmt).output
    assert _has_name(plain)
    out = tmp_path / f"s.{fmt}"
    cli("sessions", "export", session, "--format", fmt, "--pseudonymise", "-o", str(out))
    text = out.read_text()
    code = pseudonym(NAME)
    assert not _has_name(text) and code.startswith("trainee-")
    assert f"I'm {code}. What brings you in today?" in text and "reflect before asking." in text
    assert "Dr Supervisor" in text  # the supervisor's name is not the trainee's
    report = tmp_path / "r.html"
    cli("sessions", "report", session, "--pseudonymise", "-o", str(report))
    assert code in report.read_text() and not _has_name(report.read_text())  # the same code everywhere


def test_pseudonymised_export_keeps_everything_else(cli, session):
    plain = json.loads(cli("sessions", "export", session).stdout)
    coded = json.loads(cli("sessions", "export", session, "--pseudonymise").stdout)
    assert coded["session"]["trainee"] == pseudonym(NAME)
    assert coded["session"] | {"trainee": NAME} == plain["session"]
    assert [t["codes"] for t in coded["turns"]] == [t["codes"] for t in plain["turns"]]
    rows = list(csv.DictReader(io.StringIO(cli("sessions", "export", session, "--format", "csv",
                                               "--pseudonymise").output)))
    assert {r["measure"]: r["value"] for r in rows if r["section"] == "session"}["trainee"] == pseudonym(NAME)


def test_imported_transcript_named_after_the_trainee(cli, tmp_path):
    path = tmp_path / "zelda_quimby_week3.txt"
    path.write_text("T: Hello Zelda here, what brings you in?\nC: My doctor sent me.\n"
                    "T: You came because your doctor asked.\nC: Yes, I suppose I should move more.\n")
    sid = json.loads(cli("sessions", "import", str(path), "--trainee", NAME, "--json").stdout)["session_id"]
    assert _has_name(cli("sessions", "export", sid).output)
    coded = cli("sessions", "export", sid, "--pseudonymise").output
    assert not _has_name(coded) and f"{pseudonym(NAME)}_week3.txt" in coded  # title and model name the file


def test_progress_page_and_json_pseudonymised(cli, session, home):
    shown = json.loads(cli("trainees", "show", NAME, "--json", "--pseudonymise").stdout)
    plain = json.loads(cli("trainees", "show", NAME, "--json").stdout)
    assert shown == {**plain, "trainee": pseudonym(NAME)}
    result = cli("trainees", "show", NAME, "--html", "--pseudonymise")
    page = home / "data" / "exports" / f"progress-{pseudonym(NAME)}.html"
    assert result.output.strip() == f"Wrote {page}" and not _has_name(result.output)
    assert pseudonym(NAME) in page.read_text() and not _has_name(page.read_text())
    table = cli("trainees", "show", NAME, "--pseudonymise").output
    assert pseudonym(NAME) in table and not _has_name(table)


def test_name_is_replaced_as_a_word_in_any_case():
    code = pseudonym("Ann Lee")
    data = {"Ann": ["ann_notes.txt", "ANN's turn", "Annie and Leeds", "ann  lee", 3, None], "n": 2.5}
    assert pseudonymised(data, "Ann Lee") == {
        "Ann": [f"{code}_notes.txt", f"{code}'s turn", "Annie and Leeds", code, 3, None], "n": 2.5}
    assert pseudonymised(data, "") == data
    assert pseudonymised(["Al is here"], "Al") == [f"{pseudonym('Al')} is here"]  # the whole name, however short
