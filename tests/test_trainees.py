"""`trainees list/show`: progress figures per trainee from stored summaries, and the progress page."""

from __future__ import annotations

import json

import pytest
from browser import visit

from simtrainer.review.charts import SVG_NS


@pytest.fixture
def sessions(cli, tmp_path) -> dict[str, list[str]]:
    """Three sessions of Ann (MI, DEAR MAN, CBT), one of Bob, one without a name."""
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\nIt sounds like the shifts are exhausting.\nWhat would help?\n")

    def practise(scenario: str, *trainee: str) -> str:
        args = ("--trainee", *trainee) if trainee else ()
        return json.loads(cli("practice", "-s", scenario, "--script", str(script), "--json", "-m", "fake",
                              *args).stdout)["session_id"]

    return {"Ann": [practise("mi-alcohol-nurse", "Ann"), practise("dearman-roommate-noise", "Ann"),
                    practise("cbt-panic-supermarket", "Ann")],
            "Bob": [practise("mi-vaping-teen", "Bob")], "": [practise("mi-diabetes-retiree")]}


def test_list_side_by_side(cli, sessions):
    rows = json.loads(cli("trainees", "list", "--json").stdout)
    assert [(r["trainee"], r["sessions"]) for r in rows] == [("Ann", 3), ("Bob", 1), ("(no name)", 1)]
    ann = rows[0]
    assert set(ann["latest"]) == {"mi", "dearman", "ctrs"}
    assert ann["latest"]["dearman"]["skills_total"] == 7 and ann["latest"]["ctrs"]["max"] == 66
    assert set(rows[1]["latest"]) == {"mi"}
    text = cli("trainees", "list").output
    assert "Ann" in text and "(no name)" in text and "3/7" not in text.split("Bob")[1].split("\n")[0]


def test_show_json_over_three_sessions(cli, sessions, store_summaries):
    data = json.loads(cli("trainees", "show", "Ann", "--json").stdout)
    assert data["trainee"] == "Ann"
    assert [s["id"] for s in data["sessions"]] == sessions["Ann"]  # oldest first
    assert [s["rubric"] for s in data["sessions"]] == ["mi", "dearman", "ctrs"]
    assert [s["scenario"] for s in data["sessions"]] == ["mi-alcohol-nurse", "dearman-roommate-noise",
                                                          "cbt-panic-supermarket"]
    for entry in data["sessions"]:
        assert set(entry) >= {"id", "started_at", "scenario", "rubric", "figures"}
        stored = store_summaries[entry["id"]]["rubrics"]
        assert set(entry["figures"]) == {entry["rubric"]}  # each session by the rubric that fits it alone
    mi, stored = data["sessions"][0]["figures"]["mi"], store_summaries[sessions["Ann"][0]]["rubrics"]
    assert (mi["rq"], mi["pct_cr"], mi["mi_adherent"], mi["mi_non_adherent"]) == (
        stored["mi"]["rq"], stored["mi"]["pct_cr"], stored["mi"]["mi_adherent"], stored["mi"]["mi_non_adherent"])
    assert mi["globals_estimate"] == stored["mi"]["globals_estimate"]
    dearman, ctrs = data["sessions"][1]["figures"]["dearman"], data["sessions"][2]["figures"]["ctrs"]
    assert dearman["skills_shown"] == store_summaries[sessions["Ann"][1]]["rubrics"]["dearman"]["skills_shown"]
    assert ctrs["total"] == store_summaries[sessions["Ann"][2]]["rubrics"]["ctrs"]["total"]
    bob = json.loads(cli("trainees", "show", "Bob", "--json").stdout)
    assert [s["id"] for s in bob["sessions"]] == sessions["Bob"]


@pytest.fixture
def store_summaries(sessions) -> dict[str, dict]:
    from simtrainer.storage import open_store

    store = open_store()
    return {sid: store.get_session(sid)["summary"] for ids in sessions.values() for sid in ids}


def test_unknown_trainee_lists_the_known_ones(runner, sessions):
    from simtrainer.cli import cli as command

    for name in ("Carol", "(no name)", ""):
        result = runner.invoke(command, ["trainees", "show", name, "--json"])
        assert result.exit_code == 2, name
        assert f"No sessions for trainee '{name}'" in result.output and "Known trainees: Ann, Bob" in result.output


def test_progress_page_in_chromium(cli, sessions, tmp_path):
    import xml.etree.ElementTree as ET

    out = tmp_path / "ann.html"
    assert cli("trainees", "show", "Ann", "--html", "-o", str(out)).output.strip() == f"Wrote {out}"
    html = out.read_text()
    charts = [ET.fromstring(part.split("</svg>")[0] + "</svg>") for part in
              ("<svg" + chunk for chunk in html.split("<svg")[1:])]
    titles = [c.find(f"{{{SVG_NS}}}title").text for c in charts]
    assert titles == ["MI: reflections to questions (R:Q)", "MI: complex reflections (%)",
                      "MI: global estimates (1-5)", "DEAR MAN: skills shown", "CTRS: total"]
    assert len(list(charts[0].iter(f"{{{SVG_NS}}}circle"))) == 1  # R:Q only where MI scores the session
    shot = tmp_path / "progress.png"
    seen = visit(out, shot, texts=("body",))
    assert "Progress: Ann" in seen.texts["body"] and sessions["Ann"][2] in seen.texts["body"]
    assert seen.requests == [seen.url] and seen.dialogs == []
    assert shot.stat().st_size > 20_000


def test_hostile_names_show_as_text(cli, tmp_path):
    name = '<img src=x onerror="alert(1)">'
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\n")
    sid = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m", "fake",
                         "--trainee", name).stdout)["session_id"]
    cli("sessions", "annotate", sid, "fine", "--turn", "1", "--author", "<script>x()</script>")
    report, progress = tmp_path / "r.html", tmp_path / "p.html"
    cli("sessions", "report", sid, "-o", str(report))
    cli("trainees", "show", name, "-o", str(progress))  # -o alone means --html
    for page in (report.read_text(), progress.read_text()):
        assert "<img" not in page and "<script" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in progress.read_text()
    assert "&lt;script&gt;x()&lt;/script&gt;" in report.read_text()
    default = cli("trainees", "show", name, "--html").output.strip()
    assert default.endswith("/exports/progress-img-src-x-onerror-alert-1.html")


def test_progress_follows_the_review_and_names_match_in_any_case(cli, sessions):
    ann_mi = sessions["Ann"][0]
    before = json.loads(cli("trainees", "show", "ann", "--json").stdout)["sessions"][0]
    assert before["reviewed"] is None and before["figures"] == before["automatic"]
    assert cli("sessions", "rate", ann_mi, "--item", "empathy", "--score", "1").exit_code == 0
    assert cli("sessions", "rate", ann_mi, "--item", "partnership", "--score", "1").exit_code == 0
    after = json.loads(cli("trainees", "show", "ANN", "--json").stdout)["sessions"][0]
    assert after["figures"] == after["reviewed"] and after["figures"]["mi"]["relational"] == 1.0
    assert after["automatic"] == before["automatic"]  # the coders' figures are kept beside
    listed = json.loads(cli("trainees", "list", "--json").stdout)
    assert listed[0]["trainee"] == "Ann"


def test_a_count_axis_ends_at_its_whole_top():
    from simtrainer.review.charts import _ticks

    assert _ticks(7, whole=True) == [0, 1, 2, 3, 4, 5, 6, 7]  # seven DEAR MAN skills: the axis ends at 7
    assert _ticks(40, whole=True) == [0, 10, 20, 30, 40]
    assert _ticks(1.0, whole=False)[-1] >= 1.0
