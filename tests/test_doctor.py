"""`simtrainer doctor`: every part checked as it is used; problems exit 2 with a fix, warnings do not."""

from __future__ import annotations

import json

from conftest import free_port, run_cli

from simtrainer.config import config_file

PARTS = ["config", "data folder", "database", "model", "model runs", "MI coder", "DEAR MAN / CTRS scorers",
         "speech in", "speech out", "audio input", "audio output", "network policy", "cpu"]


def test_doctor_on_a_fresh_install_checks_every_part():
    done = run_cli("doctor", "--json")
    report = json.loads(done.stdout)
    assert [c["part"] for c in report["checks"]] == PARTS
    problems = [c for c in report["checks"] if c["status"] == "problem"]
    assert problems == [] and report["ok"] is True and done.returncode == 0, done.stderr
    runs = next(c for c in report["checks"] if c["part"] == "model runs")
    assert "child process" in runs["detail"]
    network = next(c for c in report["checks"] if c["part"] == "network policy")
    assert network["detail"].startswith("nothing leaves this machine")


def test_doctor_names_a_missing_model_and_the_fix(home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text('model = "/nowhere/model.gguf"\n')
    done = run_cli("doctor")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "does not exist" in done.stdout and "fix:" in done.stdout and "need fixing" in done.stdout


def test_doctor_reports_a_broken_config_as_one_problem(home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text("model = \n")
    report = json.loads(run_cli("doctor", "--json").stdout)
    assert report["ok"] is False and report["checks"][0]["part"] == "config"
    assert report["checks"][0]["status"] == "problem" and "TOML" in report["checks"][0]["detail"]


def test_doctor_says_where_transcripts_go_with_a_server(home):
    port = free_port()  # nothing listens there
    config_file().parent.mkdir(parents=True)
    config_file().write_text(f'model = "lab"\n[models.lab]\nbackend = "openai"\n'
                             f'base_url = "http://127.0.0.1:{port}/v1"\nmodel = "m"\n')
    done = run_cli("doctor", "--json")
    report = json.loads(done.stdout)
    checks = {c["part"]: c for c in report["checks"]}
    assert checks["model runs"]["status"] == "problem" and done.returncode == 2
    assert f"127.0.0.1:{port}" in checks["network policy"]["detail"]


def test_doctor_warns_about_settings_the_app_will_ignore(home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text('theme = "no-such-theme"\n[keymap]\nno_such_action = "ctrl+t"\n')
    done = run_cli("doctor", "--json")
    config = json.loads(done.stdout)["checks"][0]
    assert config["status"] == "warn" and "no-such-theme" in config["detail"] and "no_such_action" in config["detail"]
    assert done.returncode == 0
