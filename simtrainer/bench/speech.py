"""`simtrainer bench speech`: speech-to-text and text-to-speech real-time factors, and the patient's voice latency.

- tts_rtf: seconds to synthesise ÷ seconds of audio, over a set of patient sentences.
- stt_rtf: seconds to transcribe ÷ seconds of audio, on that synthesised speech (16 kHz after resampling).
- first_audio_s: from the end of the patient's first generated sentence to its first audio samples (the
  sentence-level streaming target: ≤ 0.3 s). Median over the sentences.
- wer: word error rate of the round trip (speech made by piper, transcribed by whisper), after the usual
  normalisation (contractions expanded, numerals spelled out). Piper's random variation is turned off here,
  so the figures repeat from run to run.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import numpy as np

from simtrainer.config import SpeechSettings

SENTENCES = [
    "My sister kind of made me book this.",
    "Honestly, a couple of glasses is how I come down after twelve hours of alarms.",
    "I don't want my kids to see me the way I saw my dad.",
    "I guess I get kind of winded now at the end of games.",
    "Those pills tear up my stomach something awful.",
    "When I thought about raising my hand, my face went hot and I just didn't.",
]


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    return [str(n)]


_CONTRACTIONS = (("can't", "can not"), ("won't", "will not"), ("n't", " not"), ("'m", " am"), ("'re", " are"),
                 ("'ve", " have"), ("'ll", " will"), ("'d", " would"), ("it's", "it is"), ("that's", "that is"),
                 ("what's", "what is"), ("there's", "there is"), ("he's", "he is"), ("she's", "she is"))


def _words(text: str) -> list[str]:
    """Lowercase words with contractions expanded and numerals spelled out ("I'm" = "I am", "12" = "twelve"),
    the usual normalisation before scoring word error rate."""
    text = text.lower().replace("’", "'").replace("-", " ")
    for short, long in _CONTRACTIONS:
        text = text.replace(short, long)
    words: list[str] = []
    for token in re.findall(r"[a-z0-9']+", text):
        words += _number_words(int(token)) if token.isdigit() else [token]
    return words


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance ÷ reference length."""
    ref, hyp = _words(reference), _words(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(1, len(ref))


def bench_speech(settings: SpeechSettings) -> dict[str, Any]:
    from simtrainer.speech.stt import Transcriber
    from simtrainer.speech.tts import Voice
    from simtrainer.speech.wavio import WHISPER_RATE, resample

    voice = Voice(settings.model_copy(update={"voice_variation": False}))  # the same audio every run
    transcriber = Transcriber(settings)
    voice.synthesize("Warming up.")
    synth_s = audio_s = stt_s = 0.0
    first_audio, errors = [], []
    for sentence in SENTENCES:
        first_audio.append(voice.time_to_first_audio(sentence))
        started = time.perf_counter()
        audio = voice.synthesize(sentence)
        synth_s += time.perf_counter() - started
        audio_s += len(audio) / voice.sample_rate
        pcm = resample(audio.astype(np.float32) / 32768, voice.sample_rate, WHISPER_RATE)
        started = time.perf_counter()
        transcript = transcriber.transcribe_array(pcm)
        stt_s += time.perf_counter() - started
        errors.append(wer(sentence, transcript.text))
    return {
        "sentences": len(SENTENCES),
        "audio_s": round(audio_s, 2),
        "tts_rtf": round(synth_s / audio_s, 4),
        "stt_rtf": round(stt_s / audio_s, 4),
        "stt_beam_size": settings.stt_beam_size,
        "first_audio_s": round(statistics.median(first_audio), 4),
        "first_audio_max_s": round(max(first_audio), 4),
        "wer": round(statistics.mean(errors), 4),
    }
