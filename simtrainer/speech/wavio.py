"""Read and write WAV files with clear errors; convert to 16 kHz mono float for transcription."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from simtrainer.errors import UserError

WHISPER_RATE = 16000


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono int16 audio."""
    pcm = audio if audio.dtype == np.int16 else (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(sample_rate)
            handle.writeframes(pcm.tobytes())
    except OSError as exc:
        raise UserError(
            f"Cannot write the WAV file: {exc.strerror}.", where=str(path), fix="Choose a writable path."
        ) from None


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear-interpolation resampling; plenty for speech recognition."""
    if rate == target or len(audio) == 0:
        return audio
    n = int(round(len(audio) * target / rate))
    return np.interp(np.linspace(0, len(audio) - 1, n), np.arange(len(audio)), audio).astype(np.float32)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Float32 mono samples in [-1, 1] at 16 kHz, and the file's own sample rate."""
    if not path.exists():
        raise UserError("The audio file does not exist.", where=str(path), fix="Check the path.")
    if path.is_dir():
        raise UserError("This is a folder, not a WAV file.", where=str(path), fix="Give the path of one .wav file.")
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.getnframes()
            raw = handle.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise UserError(
            f"Not a readable WAV file ({exc or 'truncated header'}).",
            where=str(path),
            fix="Give a PCM WAV file, e.g. convert with `sox in.mp3 -r 16000 -c 1 out.wav`.",
        ) from None
    except OSError as exc:
        raise UserError(
            f"Cannot read the WAV file: {exc.strerror}.", where=str(path), fix="Check that it is readable."
        ) from None
    if rate <= 0:
        raise UserError(
            f"The WAV header gives a sample rate of {rate} Hz.",
            where=str(path),
            fix="The file is damaged: record or export it again (e.g. `sox in.wav -r 16000 out.wav`).",
        )
    if width not in (1, 2, 4):
        raise UserError(f"Unsupported sample width: {width * 8} bit.", where=str(path), fix="Use 16-bit PCM WAV.")
    usable = len(raw) - len(raw) % (width * channels)
    if usable == 0:
        what = "is truncated: its header promises audio that is not there" if frames else "holds no audio"
        raise UserError(f"The WAV file {what}.", where=str(path), fix="Record or export it again.")
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    samples = np.frombuffer(raw[:usable], dtype=dtype).astype(np.float32)
    if width == 1:
        samples = (samples - 128) / 128
    else:
        samples /= float(2 ** (8 * width - 1))
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(samples, rate, WHISPER_RATE), rate


def is_silent(audio: np.ndarray, threshold: float = 0.01) -> bool:
    """True when nothing in the recording is louder than a whisper of noise."""
    return len(audio) == 0 or float(np.sqrt(np.mean(audio**2))) < threshold / 4 and float(np.abs(audio).max()) < threshold
