"""Audio in and out with sounddevice. No PortAudio library, or no device: a notice, and text mode.

`import sounddevice` raises OSError when Debian's libportaudio2 is missing; opening a stream raises
PortAudioError ("Error querying device -1") when the machine has no sound card. Both become `AudioUnavailable`
with a message saying what to do, and callers fall back to text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np


class AudioUnavailable(Exception):
    """No usable audio; `str(error)` is the notice to show."""


def _sounddevice():
    try:
        import sounddevice
    except OSError:
        raise AudioUnavailable(
            "Audio is off: the PortAudio library is missing (on Debian/Ubuntu: sudo apt-get install libportaudio2). "
            "Carrying on in text mode."
        ) from None
    except ImportError:
        raise AudioUnavailable("Audio is off: pip install sounddevice. Carrying on in text mode.") from None
    return sounddevice


def check_output() -> None:
    """Raise AudioUnavailable unless a default output device exists."""
    _check("output")


def check_input() -> None:
    _check("input")


def _check(kind: str) -> None:
    sd = _sounddevice()
    try:
        sd.query_devices(kind=kind)
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioUnavailable(
            f"Audio is off: no {kind} device was found ({exc}). Carrying on in text mode."
        ) from None


def play(audio: np.ndarray, sample_rate: int, *, wait: bool = True) -> None:
    sd = _sounddevice()
    try:
        sd.play(audio, sample_rate)
        if wait:
            sd.wait()
    except sd.PortAudioError as exc:
        raise AudioUnavailable(f"Audio is off: cannot play sound ({exc}). Carrying on in text mode.") from None


@dataclass
class Recorder:
    """Push-to-talk: `start()`, then `stop()` returns the recording; `level` is the latest loudness (0..1)."""

    sample_rate: int = 16000
    level: float = 0.0
    _frames: list[np.ndarray] = field(default_factory=list)
    _stream: object | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        sd = _sounddevice()
        self._frames = []

        def callback(indata, frames, time_info, status) -> None:
            chunk = indata[:, 0].copy()
            with self._lock:
                self._frames.append(chunk)
            self.level = min(1.0, float(np.sqrt(np.mean(chunk**2))) * 8)

        try:
            self._stream = sd.InputStream(samplerate=self.sample_rate, channels=1, dtype="float32",
                                          callback=callback)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise AudioUnavailable(f"Audio is off: cannot record ({exc}). Carrying on in text mode.") from None

    @property
    def recording(self) -> bool:
        return self._stream is not None

    def stop(self) -> np.ndarray:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        self.level = 0.0
        with self._lock:
            return np.concatenate(self._frames) if self._frames else np.zeros(0, dtype=np.float32)
