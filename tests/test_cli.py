import csv
import io
import json

import pytest
from conftest import run_cli

from simtrainer.config import config_file


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("What brings you in today?\n\nIt sounds like the shifts are exhausting.\nWhat would help?\n")
    return path


def test_practice_script_json_with_fake_model(cli, script):
    result = cli("practice", "--scenario", "mi-alcohol-nurse", "--script", str(script), "--json", "--model", "fake")
    data = json.loads(result.stdout)
    assert set(data) >= {"session_id", "scenario", "model", "turns"}
    assert data["scenario"] == "mi-alcohol-nurse" and data["model"] == "fake"
    speakers = [t["speaker"] for t in data["turns"]]
    assert speakers == ["patient"] + ["trainee", "patient"] * 3
    assert all(isinstance(t["codes"], list) for t in data["turns"])
    listed = json.loads(cli("sessions", "list", "--json").stdout)
    assert listed[0]["id"] == data["session_id"] and listed[0]["turn_count"] == 7


@pytest.mark.model
def test_practice_with_the_real_default_model(script, home):
    """The issue's done-when: a transcript from the real default model, then found in sessions list."""
    result = run_cli("practice", "--scenario", "mi-alcohol-nurse", "--script", str(script), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "smollm2-135m"
    replies = [t["text"] for t in data["turns"][1:] if t["speaker"] == "patient"]
    assert len(replies) == 3 and all(r.strip() for r in replies)
    listed = json.loads(run_cli("sessions", "list", "--json").stdout)
    assert data["session_id"] in [s["id"] for s in listed]


def test_exports(cli, script, tmp_path):
    sid = json.loads(cli("practice", "-s", "cbt-panic-supermarket", "--script", str(script), "--json", "-m",
                         "fake").stdout)["session_id"]
    cli("sessions", "annotate", sid, "Try a guided-discovery question here.", "--turn", "1", "--author", "sup")
    record = json.loads(cli("sessions", "export", sid, "--format", "json").stdout)
    assert record["session"]["id"] == sid and len(record["turns"]) == 7
    assert record["annotations"][0]["body"].startswith("Try a guided")
    md = cli("sessions", "export", sid, "--format", "md").output
    assert md.startswith("# Panic in the supermarket") and "**Trainee**: What brings you in today?" in md
    assert "1. **Patient**" in md and "    - note: Try a guided-discovery question here. (sup)" in md  # at turn 1
    rows = list(csv.DictReader(io.StringIO(cli("sessions", "export", sid, "--format", "csv").output)))
    assert [r["section"] for r in rows[:8]] == ["turn"] * 7 + ["note"] and rows[1]["speaker"] == "trainee"
    out = tmp_path / "s.md"
    cli("sessions", "export", sid, "--format", "md", "-o", str(out))
    assert out.read_text() == md
    assert "Try a guided" in cli("sessions", "show", sid).output
    drawn = run_cli("sessions", "show", sid, env={"FORCE_COLOR": "1"}).stdout  # as a terminal shows it
    assert "Try a guided" in drawn and "───" in drawn and "|---|" not in drawn
    assert [s["id"] for s in json.loads(cli("sessions", "list", "-q", "exhausting", "--json").stdout)] == [sid]
    listing = cli("sessions", "list").output
    assert sid in listing and "trainee" not in listing  # ids whole; no trainee column when nobody set one
    narrow = run_cli("sessions", "list", env={"FORCE_COLOR": "1", "COLUMNS": "80"}).stdout  # an 80-column terminal
    tail = sid.rsplit("-", 1)[-1]
    scenario = json.loads(cli("sessions", "list", "--json").stdout)[0]["scenario_id"]
    assert f" {tail} " in narrow and sid not in narrow and scenario in narrow  # nothing broken across lines
    assert "(ids shortened to their tail" in narrow


def test_interactive_repl_until_ctrl_d(cli):
    result = cli("practice", "-s", "dearman-roommate-noise", "-m", "fake", input="Hey, can we talk?\n/end\n")
    assert result.exit_code == 0
    assert "Alex:" in result.output and "saved" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["practice", "--scenario", "no-such-card", "-m", "fake"], "Unknown scenario"),
        (["practice", "--scenario", "mi-alcohol-nurse", "-m", "/tmp/nope/missing.gguf"], "does not exist"),
        (["sessions", "show", "zzzz"], "No session"),
        (["practice", "--scenario", "mi-alcohol-nurse", "-m", "gpt-17"], "Unknown model"),
        (["practice", "--scenario", "mi-alcohol-nurse", "-m", "http://127.0.0.1:8080/v1"], "server address"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert "fix:" in result.stderr


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the home folder should be")
    result = run_cli("sessions", "list", env={"SIMTRAINER_HOME": str(blocker)})
    assert result.returncode == 2 and "Cannot open the session database" in result.stderr


def test_broken_config_exits_2(home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text("[patient\n")
    result = run_cli("scenarios", "list")
    assert result.returncode == 2 and "config.toml" in result.stderr and "Traceback" not in result.stderr


def test_bench_patient_json_with_fake(cli):
    data = json.loads(cli("bench", "patient", "--model", "fake", "--turns", "10", "--json").stdout)
    assert data["turns"] == 10 and data["first_token_s_turn10"] is not None
    assert data["first_token_s_late_median"] is None  # turns 21-30 were not run
    sources = data["first_token_s_by_source"]
    assert sources and set(sources) <= {"model", "card"} and all(v >= 0 for v in sources.values())
    assert data["speed_ratio"] is None and data["app_tok_s"] > 0 and data["rss_mb"] > 0


@pytest.mark.model
def test_bench_patient_real_model():
    """The smallest real workload (the figures' computation, not this machine's speed, is under test)."""
    result = run_cli("bench", "patient", "--turns", "2", "--rounds", "1", "--quick", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "smollm2-135m" and data["turns"] == 2
    assert data["first_token_s_turn1"] > 0 and data["raw_tok_s"] > 0 and data["speed_ratio"] > 0
    assert data["load_s"] > 0 and data["peak_rss_mb"] > 50


def test_bare_command_without_a_terminal_explains(home):
    result = run_cli()
    assert result.returncode == 2 and "needs a terminal" in result.stderr


def test_bare_command_with_a_missing_model_fails_before_the_app(home, tmp_path):
    result = run_cli(env={"SIMTRAINER_MODEL": str(tmp_path / "gone.gguf")})
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_model_names_the_flag_or_the_setting_it_came_from(home):
    result = run_cli("practice", "-s", "mi-vaping-teen", "-m", "no-such-model")
    assert result.returncode == 2 and "where: --model / -m" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("practice", "-s", "mi-vaping-teen", env={"SIMTRAINER_MODEL": "no-such-model"})
    assert result.returncode == 2 and "setting `model`" in result.stderr
