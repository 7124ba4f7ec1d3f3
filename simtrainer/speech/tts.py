"""The patient's voice with piper, sentence by sentence so the first sentence plays while the rest is made."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from simtrainer.config import SpeechSettings
from simtrainer.errors import UserError
from simtrainer.speech.models import voice_path

_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s]


class Voice:
    def __init__(self, settings: SpeechSettings, scenario_id: str | None = None):
        try:
            from piper import PiperVoice
        except ImportError:
            raise UserError("The patient's voice needs piper-tts.", fix="pip install piper-tts") from None
        path = voice_path(settings, scenario_id)
        try:
            self.voice = PiperVoice.load(str(path))
        except Exception as exc:  # onnxruntime and json errors from a broken voice file
            raise UserError(f"Cannot load the voice: {str(exc)[:160]}", where=str(path),
                            fix="Download the voice's .onnx and .onnx.json again.") from None
        self.sample_rate = int(self.voice.config.sample_rate)
        self.config = None
        if not settings.voice_variation:
            from piper.config import SynthesisConfig

            self.config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """int16 audio, one chunk per sentence, each as soon as it is made."""
        for sentence in sentences(text):
            for chunk in self.voice.synthesize(sentence, self.config):
                yield chunk.audio_int16_array

    def synthesize(self, text: str) -> np.ndarray:
        chunks = list(self.stream(text))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def time_to_first_audio(self, text: str) -> float:
        """Seconds from having the first sentence to having its first audio samples."""
        started = time.perf_counter()
        next(self.stream(text), None)
        return time.perf_counter() - started


def save(voice: Voice, text: str, path: Path) -> float:
    """Write `text` spoken to `path`; returns the audio's length in seconds."""
    from simtrainer.speech.wavio import write_wav

    audio = voice.synthesize(text)
    write_wav(path, audio, voice.sample_rate)
    return len(audio) / voice.sample_rate
