import json
import os
import subprocess
import sys

import pytest
from conftest import run_cli

from simtrainer.config import config_file, data_dir, load_settings
from simtrainer.errors import UserError


def test_defaults_and_home_moves_every_path(home):
    settings = load_settings()
    assert settings.model == "smollm2-135m"
    assert settings.patient.max_sentences == 3
    assert config_file() == home / "config" / "config.toml"
    assert data_dir() == home / "data"


def test_file_then_env_override(home, monkeypatch):
    config_file().parent.mkdir(parents=True)
    config_file().write_text('model = "fake"\nn_ctx = 2048\n[patient]\ntemperature = 0.3\n')
    settings = load_settings()
    assert (settings.model, settings.n_ctx, settings.patient.temperature) == ("fake", 2048, 0.3)
    monkeypatch.setenv("SIMTRAINER_N_CTX", "1024")
    monkeypatch.setenv("SIMTRAINER_PATIENT__TEMPERATURE", "0.9")
    settings = load_settings()
    assert (settings.n_ctx, settings.patient.temperature) == (1024, 0.9)


def test_broken_toml_names_the_file(home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text("model = \n")
    with pytest.raises(UserError) as info:
        load_settings()
    assert str(config_file()) in info.value.where
    assert "TOML" in info.value.what


def test_invalid_value_names_the_key(home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text("n_ctx = 10\nnot_a_setting = 1\n")
    with pytest.raises(UserError) as info:
        load_settings()
    assert "n_ctx" in info.value.what and "not_a_setting" in info.value.what


def test_nothing_created_at_import(tmp_path):
    home = tmp_path / "fresh"
    code = "import simtrainer.cli, simtrainer.session, simtrainer.storage, simtrainer.llm, simtrainer.patient"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "SIMTRAINER_HOME": str(home)})
    assert not home.exists()


def test_config_cli(cli, home):
    result = cli("config", "path", "--json")
    paths = json.loads(result.stdout)
    assert paths["database"] == str(home / "data" / "sessions.db")
    result = cli("config", "show")
    assert 'model = "smollm2-135m"' in result.output
    assert json.loads(cli("config", "show", "--json").stdout)["patient"]["max_sentences"] == 3


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIMTRAINER_MODELS", "{not json"),
        ("SIMTRAINER_SCENARIO_DIRS", "/some/folder"),
        ("SIMTRAINER_PATIENT", "temperature=0.3"),
    ],
)
def test_env_table_or_list_that_is_not_json_names_the_variable(home, variable, value):
    result = run_cli("config", "show", env={variable: value})
    assert result.returncode == 2, result.stderr
    assert f"{variable} is not valid JSON" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("broken", ["latin-1", "folder"])
def test_config_file_not_utf8_or_a_folder_exits_2(home, broken):
    config_file().parent.mkdir(parents=True)
    if broken == "folder":
        config_file().mkdir()
        message = "Cannot read the config file"
    else:
        config_file().write_bytes('trainee = "Zoë"\n'.encode("latin-1"))
        message = "not UTF-8"
    result = run_cli("config", "show")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and str(config_file()) in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(("text", "env", "key", "where", "valid"), [
    ("[patient]\ntemprature = 0.5\n", None, "patient.temprature", "config.toml", "[patient] temperature"),
    ("", ("SIMTRAINER_PATIENT__TEMPRATURE", "1"), "patient.temprature", "SIMTRAINER_PATIENT__TEMPRATURE",
     "[patient] temperature"),
    ('[models.mine]\nbackend = "fake"\npaht = "x.gguf"\n', None, "models.mine.paht", "config.toml",
     "[models.mine] backend, description, path"),
])
def test_a_misspelt_key_in_any_table_names_itself_its_source_and_the_valid_keys(home, monkeypatch, text, env, key,
                                                                                  where, valid):
    config_file().parent.mkdir(parents=True)
    config_file().write_text(text)
    if env:
        monkeypatch.setenv(*env)
    with pytest.raises(UserError) as info:
        load_settings()
    assert f"{key}: unknown key" in info.value.what
    assert info.value.where.endswith(where) and valid in info.value.fix
    assert "config show" not in info.value.fix  # it would fail with the same error
    result = run_cli("config", "show", env={env[0]: env[1]} if env else None)
    assert result.returncode == 2 and key in result.stderr and "Traceback" not in result.stderr
