"""Speech during a session: the patient's voice played sentence by sentence, the trainee's push-to-talk.

`Speaker.say` synthesises one sentence at a time and hands each to a player thread, so the first sentence
plays while the next is being made. `SpeechIO` bundles voice, recorder and transcriber for a front end and
records why audio is off, if it is.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

from simtrainer.config import SpeechSettings, data_dir
from simtrainer.errors import UserError
from simtrainer.speech import audio
from simtrainer.speech.wavio import write_wav


class Speaker:
    def __init__(self, settings: SpeechSettings, scenario_id: str | None = None):
        from simtrainer.speech.tts import Voice

        self.voice = Voice(settings, scenario_id)
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._thread = threading.Thread(target=self._play_loop, daemon=True)
        self._thread.start()
        self.error: str | None = None

    def _play_loop(self) -> None:
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            try:
                audio.play(chunk, self.voice.sample_rate, wait=True)
            except audio.AudioUnavailable as notice:
                self.error = str(notice)

    def say(self, text: str) -> None:
        for chunk in self.voice.stream(text):
            self._queue.put(chunk)

    def close(self) -> None:
        self._queue.put(None)


class SpeechIO:
    """What a front end needs for speech, or the notice that explains why it is off."""

    def __init__(self, settings: SpeechSettings, scenario_id: str | None = None, *, listen: bool = True):
        self.settings = settings
        self.notice: str | None = None
        self.speaker: Speaker | None = None
        self.recorder: audio.Recorder | None = None
        self._transcriber = None
        try:
            audio.check_output()
            self.speaker = Speaker(settings, scenario_id)
            if listen:
                audio.check_input()
                self.recorder = audio.Recorder(settings.sample_rate)
        except audio.AudioUnavailable as notice:
            self.notice = str(notice)
        except UserError as error:
            self.notice = f"Speech is off: {error.what} {error.fix or ''}".strip()

    @property
    def can_listen(self) -> bool:
        return self.recorder is not None

    def transcriber(self):
        if self._transcriber is None:
            from simtrainer.speech.stt import Transcriber

            self._transcriber = Transcriber(self.settings)
        return self._transcriber

    def transcribe(self, recording: np.ndarray, *, session_id: str, turn: int) -> tuple[str, dict]:
        """Text of a 16 kHz recording, and meta for the turn (where the audio was kept, if it was)."""
        from simtrainer.speech.wavio import WHISPER_RATE, resample

        pcm = resample(recording, self.settings.sample_rate, WHISPER_RATE)
        transcript = self.transcriber().transcribe_array(pcm)
        meta: dict = {"spoken": True, "stt_rtf": transcript.rtf}
        if self.settings.save_audio:
            path = data_dir() / "audio" / session_id / f"turn-{turn:03d}.wav"
            write_wav(path, pcm, WHISPER_RATE)
            meta["audio"] = str(path)
        return transcript.text, meta


def audio_folder(session_id: str) -> Path:
    return data_dir() / "audio" / session_id
