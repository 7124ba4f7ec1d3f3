"""`say` and `transcribe`: the speech parts from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from simtrainer.cli.output import console, print_json
from simtrainer.config import cache_dir, load_settings
from simtrainer.text_safety import plain, terminal_safe


@click.command()
@click.argument("text")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write a WAV file instead of playing.")
@click.option("--scenario", "scenario_id", help="Use this scenario's configured voice.")
def say(text: str, out: Path | None, scenario_id: str | None) -> None:
    """Speak TEXT in the patient's voice: play it, or write it with --out FILE.wav."""
    from simtrainer.speech import audio
    from simtrainer.speech.tts import Voice, save

    voice = Voice(load_settings().speech, scenario_id)
    if out is not None:
        seconds = save(voice, text, out)
        click.echo(f"Wrote {out} ({seconds:.1f} s, {voice.sample_rate} Hz)", err=True)
        return
    try:
        audio.check_output()
        audio.play(voice.synthesize(text), voice.sample_rate)
    except audio.AudioUnavailable as notice:
        fallback = cache_dir() / "say.wav"
        save(voice, text, fallback)
        console.print(plain(str(notice), "yellow"), plain(f"\nWrote the audio to {fallback} instead."), sep="",
                      soft_wrap=True)


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Add segments and timings.")
def transcribe(path: Path, as_json: bool) -> None:
    """Print the words spoken in a WAV file (any sample rate, mono or stereo)."""
    from simtrainer.speech.stt import Transcriber
    from simtrainer.speech.wavio import read_wav

    audio, _rate = read_wav(path)  # a bad file is reported before the model loads
    result = Transcriber(load_settings().speech).transcribe_array(audio)
    if as_json:
        print_json(result.as_dict())
    else:
        click.echo(terminal_safe(result.text))


COMMANDS = [say, transcribe]
