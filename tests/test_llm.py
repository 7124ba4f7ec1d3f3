import json

import pytest

from simtrainer.config import Settings, config_file
from simtrainer.errors import UserError
from simtrainer.llm import GenParams, open_backend, resolve_model
from simtrainer.llm.fake import FakeBackend
from simtrainer.llm.llamacpp import LlamaCppBackend
from simtrainer.llm.openai_compat import OpenAICompatBackend


def test_default_model_is_the_embedded_gguf(gguf_path):
    entry = resolve_model(Settings())
    assert entry.name == "smollm2-135m" and entry.status == "present"
    assert entry.path == gguf_path and gguf_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert 90e6 < entry.size_bytes < 110e6


def test_models_list_json(cli, home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text('[models.gone]\nbackend = "llamacpp"\npath = "/nowhere/x.gguf"\n')
    models = {m["name"]: m for m in json.loads(cli("models", "list", "--json").stdout)}
    assert models["smollm2-135m"]["status"] == "present" and models["smollm2-135m"]["default"] is True
    assert models["smollm2-135m"]["size_bytes"] > 0
    assert models["gone"]["status"] == "missing"
    assert models["local-server"]["backend"] == "openai"


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UserError) as info:
        resolve_model(Settings(model="gpt-17"))
    assert "smollm2-135m" in info.value.fix


def test_missing_wrong_and_truncated_gguf(tmp_path, gguf_path):
    with pytest.raises(UserError, match="does not exist"):
        open_backend(Settings(model=str(tmp_path / "none.gguf")))
    wrong = tmp_path / "wrong.gguf"
    wrong.write_text("hello, not a model")
    with pytest.raises(UserError, match="not a GGUF"):
        open_backend(Settings(model=str(wrong)))
    truncated = tmp_path / "truncated.gguf"
    with gguf_path.open("rb") as src:
        truncated.write_bytes(src.read(3_000_000))
    with pytest.raises(UserError, match="truncated or corrupt"):
        LlamaCppBackend(truncated, name="t")


def test_fake_backend_is_scripted_then_deterministic():
    fake = FakeBackend(["First reply here.", "Second."])
    params = GenParams(stop=("\n",))
    assert "".join(fake.complete("p", params)) == " First reply here."
    assert "".join(fake.complete("p", params)) == " Second."
    assert "".join(fake.complete("same", params)) == "".join(fake.complete("same", params))


@pytest.mark.model
def test_real_gguf_streams_tokens(real_backend):
    pieces = list(real_backend.complete("COUNSELOR: How are you?\nCLIENT:", GenParams(max_tokens=12, stop=("\n",))))
    assert len(pieces) >= 2 and "".join(pieces).strip()
    assert real_backend.count_tokens("hello world") >= 2


@pytest.mark.model
def test_real_gguf_schema_constrained_json(real_backend):
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "enum": ["question", "reflection"]}},
        "required": ["code"],
    }
    value = real_backend.json(
        [{"role": "user", "content": "Is 'What brings you here?' a question or a reflection?"}],
        schema,
        GenParams(max_tokens=24, temperature=0.0),
    )
    assert value["code"] in ("question", "reflection")


@pytest.mark.model
def test_openai_backend_against_real_llama_server(llama_server):
    backend = OpenAICompatBackend(llama_server, "smol", name="classroom")
    text = "".join(backend.complete("COUNSELOR: Hello.\nCLIENT:", GenParams(max_tokens=10, stop=("\n",), seed=1)))
    assert text.strip()
    chat = "".join(backend.chat([{"role": "user", "content": "Say hi."}], GenParams(max_tokens=8)))
    assert chat.strip()
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    assert isinstance(backend.json([{"role": "user", "content": "Answer ok."}], schema, GenParams(max_tokens=16))["ok"],
                      bool)


@pytest.mark.model
def test_server_model_by_configuration_alone(llama_server, cli):
    config_file().parent.mkdir(parents=True)
    config_file().write_text(f'model = "classroom"\n[models.classroom]\nbackend = "openai"\n'
                             f'base_url = "{llama_server}"\nmodel = "smol"\n')
    result = cli("practice", "--scenario", "mi-vaping-teen", "--script", _script(config_file().parent), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "classroom"
    assert data["turns"][-1]["speaker"] == "patient" and data["turns"][-1]["text"]


def _script(folder):
    path = folder / "lines.txt"
    path.write_text("What brings you here today?\n")
    return str(path)


def test_unreachable_server_is_a_clear_error(cli, home):
    config_file().parent.mkdir(parents=True)
    config_file().write_text('model = "dead"\n[models.dead]\nbackend = "openai"\n'
                             'base_url = "http://127.0.0.1:9/v1"\nmodel = "x"\n')
    result = cli("practice", "--scenario", "mi-vaping-teen", "--script", _script(config_file().parent))
    assert result.exit_code == 2
    assert "Cannot reach the model server" in result.output and "Traceback" not in result.output


def test_missing_api_key_variable():
    with pytest.raises(UserError, match="NOPE_KEY"):
        OpenAICompatBackend("http://127.0.0.1:9/v1", "x", name="s", api_key_env="NOPE_KEY")
