"""Speech with real audio: piper speaks, whisper transcribes; WAV edge cases; no PortAudio, no device."""

import builtins
import json
import wave

import numpy as np
import pytest

from simtrainer.bench.speech import wer
from simtrainer.config import SpeechSettings
from simtrainer.errors import UserError
from simtrainer.speech import audio
from simtrainer.speech.wavio import read_wav, write_wav

SENTENCES = [
    "I guess a couple of glasses helps me come down after a shift.",
    "My sister thinks I drink too much.",
    "Those pills tear up my stomach something awful.",
]


@pytest.fixture(scope="module")
def voice():
    from simtrainer.speech.tts import Voice

    return Voice(SpeechSettings(voice_variation=False))  # identical audio every run: no flaky WER


@pytest.fixture(scope="module")
def transcriber():
    from simtrainer.speech.stt import Transcriber

    return Transcriber(SpeechSettings())


def test_say_then_transcribe_round_trip_wer(voice, transcriber, tmp_path):
    errors = []
    for i, sentence in enumerate(SENTENCES):
        path = tmp_path / f"s{i}.wav"
        write_wav(path, voice.synthesize(sentence), voice.sample_rate)
        with wave.open(str(path)) as handle:
            assert handle.getframerate() == 22050 and handle.getnchannels() == 1
        result = transcriber.transcribe_file(path)
        errors.append(wer(sentence, result.text))
        assert result.segments and result.duration_s > 1 and result.rtf > 0
    assert sum(errors) / len(errors) <= 0.10, errors


def test_other_rate_and_stereo_are_converted(voice, transcriber, tmp_path):
    mono = voice.synthesize(SENTENCES[1]).astype(np.float32) / 32768
    n = int(len(mono) * 44100 / voice.sample_rate)
    up = np.interp(np.linspace(0, len(mono) - 1, n), np.arange(len(mono)), mono)
    stereo = (np.stack([up, up], axis=1) * 32767).astype(np.int16)
    path = tmp_path / "stereo44k.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(44100)
        handle.writeframes(stereo.tobytes())
    samples, rate = read_wav(path)
    assert rate == 44100 and abs(len(samples) / 16000 - len(mono) / voice.sample_rate) < 0.01
    assert wer(SENTENCES[1], transcriber.transcribe_file(path).text) <= 0.2


def _wav(path, frames: bytes, nframes_claim: int | None = None):
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(frames)
    if nframes_claim is not None:  # rewrite the header to promise more data than there is
        data = bytearray(path.read_bytes())
        data[40:44] = (nframes_claim * 2).to_bytes(4, "little")
        path.write_bytes(bytes(data[:44]))


def test_bad_audio_files_give_clear_errors(transcriber, tmp_path, cli):
    silence = tmp_path / "silence.wav"
    _wav(silence, np.zeros(16000, dtype=np.int16).tobytes())
    with pytest.raises(UserError, match="silent"):
        transcriber.transcribe_file(silence)
    empty = tmp_path / "empty.wav"
    _wav(empty, b"")
    with pytest.raises(UserError, match="holds no audio"):
        read_wav(empty)
    truncated = tmp_path / "truncated.wav"
    _wav(truncated, b"", nframes_claim=16000)
    with pytest.raises(UserError, match="truncated"):
        read_wav(truncated)
    text = tmp_path / "notes.wav"
    text.write_text("these are my notes, not audio")
    result = cli("transcribe", str(text))
    assert result.exit_code == 2 and "Not a readable WAV" in result.output
    assert cli("transcribe", str(tmp_path / "missing.wav")).exit_code == 2


@pytest.mark.parametrize("case", ["rate 0", "folder"])
def test_transcribe_rate_zero_or_a_folder_exits_2(cli, tmp_path, case):
    path = tmp_path / "recordings"
    if case == "folder":
        path.mkdir()
        message = "This is a folder, not a WAV file"
    else:
        path = tmp_path / "rate0.wav"
        _wav(path, np.ones(1600, dtype=np.int16).tobytes())
        data = bytearray(path.read_bytes())
        data[24:32] = bytes(8)  # sample rate and byte rate: 0 (the wave module refuses to write one)
        path.write_bytes(bytes(data))
        message = "sample rate of 0 Hz"
    result = cli("transcribe", str(path))
    assert result.exit_code == 2 and message in result.output and "fix:" in result.output
    assert "Traceback" not in result.output

def test_say_and_transcribe_cli(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMTRAINER_SPEECH__VOICE_VARIATION", "false")
    out = tmp_path / "hello.wav"
    assert cli("say", "Hello, I am not sure about this.", "--out", str(out)).exit_code == 0
    data = json.loads(cli("transcribe", str(out), "--json").stdout)
    assert wer("Hello, I am not sure about this.", data["text"]) <= 0.2
    assert {"segments", "duration_s", "elapsed_s", "rtf"} <= set(data)


def test_no_portaudio_library_degrades_to_text(monkeypatch, cli, home):
    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(audio.AudioUnavailable, match="libportaudio2"):
        audio.check_output()
    from simtrainer.speech.live import SpeechIO

    speech = SpeechIO(SpeechSettings())
    assert speech.speaker is None and "libportaudio2" in speech.notice
    result = cli("say", "Hello there.")
    assert result.exit_code == 0 and "text mode" in result.output
    assert (home / "cache" / "say.wav").stat().st_size > 1000


def test_no_audio_device_degrades_to_text(monkeypatch):
    import sounddevice

    def no_device(*args, **kwargs):
        raise sounddevice.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sounddevice, "query_devices", no_device)
    monkeypatch.setattr(sounddevice, "play", no_device)
    from simtrainer.speech.live import SpeechIO

    speech = SpeechIO(SpeechSettings())
    assert speech.speaker is None and not speech.can_listen and "no output device" in speech.notice
    with pytest.raises(audio.AudioUnavailable):
        audio.play(np.zeros(100, dtype=np.int16), 16000)


def test_spoken_turn_is_saved_only_when_allowed(voice, home, tmp_path):
    from simtrainer.speech.live import SpeechIO
    from simtrainer.speech.wavio import resample

    recording = resample(voice.synthesize(SENTENCES[1]).astype(np.float32) / 32768, voice.sample_rate, 16000)
    io = SpeechIO.__new__(SpeechIO)  # a machine without a sound card can still transcribe a recording
    io.settings, io._transcriber = SpeechSettings(), None
    text, meta = io.transcribe(recording, session_id="s1", turn=3)
    assert wer(SENTENCES[1], text) <= 0.2 and meta["spoken"] and "audio" not in meta
    assert not (home / "data" / "audio").exists()
    io.settings = SpeechSettings(save_audio=True)
    _, meta = io.transcribe(recording, session_id="s1", turn=3)
    assert meta["audio"].endswith("s1/turn-003.wav") and read_wav(tmp_path.parent / meta["audio"])[0].size


def test_practice_voice_without_device_keeps_going(cli, tmp_path, monkeypatch):
    import sounddevice

    monkeypatch.setattr(sounddevice, "query_devices",
                        lambda *a, **k: (_ for _ in ()).throw(sounddevice.PortAudioError("Error querying device -1")))
    script = tmp_path / "lines.txt"
    script.write_text("Hello.\n")
    result = cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "--voice", "-m", "fake")
    assert result.exit_code == 0 and "text mode" in result.output and "Dana:" in result.output


def test_bench_speech_json(cli):
    data = json.loads(cli("bench", "speech", "--json").stdout)
    assert data["wer"] <= 0.10  # speed figures are measured, not asserted: a busy machine must pass too
    assert data["tts_rtf"] > 0 and data["stt_rtf"] > 0 and data["first_audio_s"] > 0
