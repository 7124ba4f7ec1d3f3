"""The session report: one self-contained HTML file, checked in real headless Chromium, and its SVG chart."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from browser import visit

from simtrainer.review.charts import SVG_NS, Chart, Line, Series, svg_line_chart

HOSTILE = "It sounds like the shifts are exhausting. <script>alert(1)</script>"


@pytest.fixture
def session(cli, tmp_path) -> str:
    """An MI session of a named trainee with a hostile line, a note at its turn (4) and one on the whole session."""
    script = tmp_path / "lines.txt"
    script.write_text(f"What brings you in today?\n{HOSTILE}\nWhat would help?\n")
    sid = json.loads(cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--json", "-m", "fake",
                         "--trainee", "Zelda Quimby").stdout)["session_id"]
    cli("sessions", "annotate", sid, "Reflect <b>before</b> asking.", "--turn", "4", "--author", "Dr Supervisor")
    cli("sessions", "annotate", sid, "A calm start overall.", "--author", "Dr Supervisor")
    return sid


def _svg(chart: Chart) -> ET.Element:
    return ET.fromstring(str(svg_line_chart(chart)))


def test_chart_is_valid_svg_with_a_dot_per_point():
    root = _svg(Chart("Talk", [Series("change", [(2, 0), (4, 1), (6, 1)]), Series("sustain", [(2, 1), (4, 1)])],
                      "turn", "count", [Line("fair", 1.5)]))
    assert root.tag == f"{{{SVG_NS}}}svg"
    groups = root.findall(f"{{{SVG_NS}}}g[@class='series']")
    assert [g.get("data-name") for g in groups] == ["change", "sustain"]
    assert [len(g.findall(f"{{{SVG_NS}}}circle")) for g in groups] == [3, 2]
    assert [len(g.find(f"{{{SVG_NS}}}polyline").get("points").split()) for g in groups] == [3, 2]
    assert len(root.findall(f"{{{SVG_NS}}}line[@class='threshold']")) == 1


def test_chart_points_rise_with_the_values_and_labels_are_escaped():
    root = _svg(Chart("<b>&</b>", [Series("x<y", [(1, 0), (2, 3)])]))
    cy = [float(c.get("cy")) for c in root.iter(f"{{{SVG_NS}}}circle")]
    assert cy[0] > cy[1]  # SVG's y grows downwards: the higher value is drawn higher
    assert root.find(f"{{{SVG_NS}}}title").text == "<b>&</b>"
    assert "x<y" in [t.text for t in root.iter(f"{{{SVG_NS}}}text")]


def test_empty_chart_says_so():
    root = _svg(Chart("Talk", [Series("change", [])]))
    assert not list(root.iter(f"{{{SVG_NS}}}circle"))
    assert "Nothing to draw yet." in [t.text for t in root.iter(f"{{{SVG_NS}}}text")]


def test_report_data_numbers_turns_and_counts_client_talk(session):
    from simtrainer.review.report import report_data
    from simtrainer.storage import open_store

    data = report_data(open_store(), session)
    assert [t["number"] for t in data["turns"]] == list(range(1, 8))  # as `sessions show` numbers them
    assert data["turns"][3]["number"] == 4 and data["turns"][3]["text"] == HOSTILE
    assert data["turns"][3]["notes"] == [{"author": "Dr Supervisor", "body": "Reflect <b>before</b> asking.",
                                          "created_at": data["turns"][3]["notes"][0]["created_at"]}]
    assert [n["body"] for n in data["session_notes"]] == ["A calm start overall."]
    talk = data["client_talk"]
    assert [p["turn"] for p in talk] == [3, 5, 7]  # the patient's coded replies; the opening line is not coded
    patient_codes = [t["codes"][0]["code"] for t in data["turns"] if t["speaker"] == "patient" and t["codes"]]
    assert talk[-1]["change"] == patient_codes.count("change")
    assert talk[-1]["sustain"] == patient_codes.count("sustain")
    assert data["summaries"][0]["tables"][0]["title"].startswith("Motivational Interviewing")


def test_report_in_chromium_shows_text_runs_nothing_and_asks_nothing(cli, session, home, tmp_path):
    result = cli("sessions", "report", session)
    path = home / "data" / "exports" / f"{session}.html"
    assert result.output.strip() == f"Wrote {path}" and path.is_file()
    shot = tmp_path / "report.png"
    seen = visit(path, shot, texts=("main", "#turn-4"), evaluate=(
        "document.querySelectorAll('script').length", "document.querySelectorAll('main b').length",
        "document.querySelectorAll('svg.chart circle').length",
        "document.querySelector('details.supervisor li').checkVisibility()"))
    body, turn4 = seen.texts["main"], seen.texts["#turn-4"]
    scripts, bold, circles, state_visible = seen.values.values()
    assert "What brings you in today?" in body and "What would help?" in body
    assert HOSTILE in turn4 and "Dr Supervisor: Reflect <b>before</b> asking." in turn4  # shown as typed
    assert scripts == 0 and bold == 0 and seen.dialogs == []
    assert seen.requests == [seen.url]  # nothing but the file itself
    assert circles == 6  # three coded patient replies, change and sustain each
    assert not state_visible and "openness" not in body.split("For the supervisor")[0]
    assert shot.stat().st_size > 20_000 and seen.pdf.startswith(b"%PDF")


def test_report_is_self_contained_html(cli, session, tmp_path):
    out = tmp_path / "r.html"
    cli("sessions", "report", session, "-o", str(out))
    html = out.read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for external in ("http://", "https://", "//", "url(", "@import", "src="):
        assert external not in html.replace("http://www.w3.org/2000/svg", ""), external
    assert "@media print" in html and "break-inside: avoid" in html


def test_pseudonymised_report_has_a_stable_code_not_the_name(cli, session, home, tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    cli("sessions", "report", session, "--pseudonymise", "-o", str(first))
    cli("sessions", "report", session, "--pseudonymise", "-o", str(second))
    html = first.read_text()
    assert "Zelda" not in html and "Quimby" not in html
    code = html.split('<dd class="trainee">')[1].split("<")[0]
    assert code.startswith("trainee-") and len(code) == len("trainee-") + 6
    assert code in second.read_text()
    key = home / "data" / "pseudonym.key"
    assert key.stat().st_mode & 0o777 == 0o600
    key.write_text("0" * 64)  # another install's secret: another code, so guessing names needs the key
    third = tmp_path / "c.html"
    cli("sessions", "report", session, "--pseudonymise", "-o", str(third))
    assert code not in third.read_text()


def test_unknown_session_and_unwritable_path_are_user_errors(runner, session, tmp_path):
    from simtrainer.cli import cli as command

    missing = runner.invoke(command, ["sessions", "report", "nope"])
    assert missing.exit_code == 2 and "No session 'nope'" in missing.output
    blocked = Path(tmp_path / "file")
    blocked.write_text("")
    unwritable = runner.invoke(command, ["sessions", "report", session, "-o", str(blocked / "r.html")])
    assert unwritable.exit_code == 2 and "Cannot write the report" in unwritable.output


def test_chart_x_range_and_at_most_about_twelve_labels():
    root = _svg(Chart("Many", [Series("s", [(float(n), 1.0) for n in range(1, 41)])], x_range=(1, 40)))
    axis_labels = [t for t in root.iter(f"{{{SVG_NS}}}text") if t.get("text-anchor") == "middle"]
    assert 10 <= len(axis_labels) <= 14 and axis_labels[0].text == "1"
    one = _svg(Chart("One", [Series("s", [(3.0, 1.0)])], x_range=(1, 3)))
    cx = float(next(one.iter(f"{{{SVG_NS}}}circle")).get("cx"))
    first = _svg(Chart("One", [Series("s", [(1.0, 1.0)])], x_range=(1, 3)))
    assert cx > float(next(first.iter(f"{{{SVG_NS}}}circle")).get("cx"))  # session 3 drawn right of session 1


def test_client_talk_counts_a_supervisors_correction(cli, session):
    from simtrainer.review.report import report_data
    from simtrainer.storage import open_store

    data = report_data(open_store(), session)
    before, coded = data["client_talk"], data["turns"][2]["codes"][0]["code"]  # turn 3: the first coded reply
    cli("sessions", "correct", session, "--turn", "3", "--code", "ST", "--author", "Dr Supervisor")
    after = report_data(open_store(), session)["client_talk"]
    assert [p["turn"] for p in after] == [p["turn"] for p in before]
    assert after[-1]["sustain"] == before[-1]["sustain"] + (coded != "sustain")
    assert after[-1]["change"] == before[-1]["change"] - (coded == "change")
    assert after[0]["sustain"] == 1


def test_report_says_who_reviewed_and_keeps_the_talk_chart_to_mi(cli, session, tmp_path):
    out = tmp_path / "r.html"
    cli("sessions", "report", session, "-o", str(out))
    html = out.read_text()
    assert "Change and sustain talk" in html and "<dt>Reviewed</dt>" not in html
    assert cli("sessions", "review", session, "--done", "--author", "Dr Okafor").exit_code == 0
    cli("sessions", "report", session, "-o", str(out))
    assert "<dt>Reviewed</dt><dd>by Dr Okafor, " in out.read_text()
    script = tmp_path / "dm.txt"
    script.write_text("I would like the refund for my cancelled flight today.\n")
    dearman = json.loads(cli("practice", "-s", "dearman-airline-refund", "--script", str(script), "--json",
                             "-m", "fake").stdout)["session_id"]
    cli("sessions", "report", dearman, "-o", str(out))
    html = out.read_text()
    assert "DBT DEAR MAN" in html and "Change and sustain talk" not in html  # not a DEAR MAN idea
