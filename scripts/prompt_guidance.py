"""Does a model follow prompt guidance? Raw replies for hand-judging (docs/models.md).

The same trainee lines go to a model twice per card, each condition in its own conversation: the patient's
transcript prompt (`TranscriptPrompt`, no guidance), and a chat prompt (the same persona as the system message,
plus "you are NAME, stay in role, answer what was just said" and, on MI cards, a leaning to follow, alternating
change / sustain by turn). Every reply is written out with the MI coder's client-talk label, so a reader can judge
role, relevance and whether the leaning was followed; first-token time is that of a reply streamed as it is
generated (one candidate), on this machine's load. No steering, no card lines: the model's own text only.

    PYTHONPATH=$PWD python3 scripts/prompt_guidance.py MODEL OUT.json [--turns 7] [--cards ID ...]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from simtrainer.bench.scripts import MI_SCRIPTS
from simtrainer.config import load_settings
from simtrainer.feedback.registry import coders_for
from simtrainer.llm import open_backend
from simtrainer.llm.base import GenParams
from simtrainer.patient.prompt import Line, TranscriptPrompt, clean_utterance
from simtrainer.scenarios import get_card

LANDLORD = [
    "Hi Mr. Haddad, it's about the heating in flat 4. It has been off since Monday.",
    "The radiators are cold and the flat was down to 14 degrees last night.",
    "I'd like you to send someone to fix it by Friday.",
    "I've paid the rent on time every month for two years.",
    "I know you're busy. When could someone come round?",
    "If it's fixed this week, I won't need to take it any further.",
    "So can we agree on Thursday morning?",
]
CARDS = {"mi-alcohol-nurse": MI_SCRIPTS["mi-alcohol-nurse"]["consistent"],
         "mi-vaping-teen": MI_SCRIPTS["mi-vaping-teen"]["consistent"],
         "dearman-landlord-heating": LANDLORD}
LEANING = {"change": "is starting to see reasons to change and says so, a little",
           "sustain": "defends the way things are and pushes back"}


def chat_messages(prompt: TranscriptPrompt, history: list[Line], leaning: str | None) -> list[dict[str, str]]:
    card, name = prompt.card, prompt.card.person.name
    system = prompt.header.removesuffix("Transcript:\n").rstrip()
    system += (f"\n\nYou are {name}. Stay in role as {name} the whole time; answer what the "
               f"{card.trainee_label.lower()} just said, in one to three short spoken sentences. Never give advice "
               "or speak as an assistant.")
    if leaning:
        system += f" Right now {name} {LEANING[leaning]}."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "(The conversation begins.)"}]
    for item in history:
        messages.append({"role": "user" if item.speaker == "trainee" else "assistant",
                         "content": clean_utterance(item.text, prompt.labels)})
    return messages


def run(model: str, turns: int, cards: list[str]) -> list[dict]:
    settings = load_settings(seed=7)
    backend = open_backend(settings, model)
    rows = []
    params = GenParams(max_tokens=80, temperature=0.7, top_p=0.9)
    for card_id in cards:
        lines = CARDS[card_id]
        card = get_card(card_id, settings)
        prompt = TranscriptPrompt(card)
        scorer = next((c.talk_probabilities for c in coders_for(card, settings)
                       if hasattr(c, "talk_probabilities")), None)
        for style in ("transcript", "chat"):
            history = [Line("patient", card.opening_line)]
            for turn, trainee in enumerate(lines[:turns], start=1):
                history.append(Line("trainee", trainee))
                leaning = ("change" if turn % 2 else "sustain") if card.modality == "mi" else None
                started = time.perf_counter()
                if style == "transcript":
                    stream = backend.complete(prompt.render(history), replace(params, stop=prompt.stops))
                else:
                    stream = backend.chat(chat_messages(prompt, history, leaning), replace(params, stop=("\n",)))
                first = next(stream, "")
                first_token_s = time.perf_counter() - started
                reply = clean_utterance(first + "".join(stream), prompt.labels)
                elapsed = time.perf_counter() - started
                history.append(Line("patient", reply or "..."))
                probs = scorer(reply, trainee, history[-3].text) if scorer and reply else {}
                rows.append({"card": card_id, "style": style, "turn": turn, "trainee": trainee,
                             "leaning_asked": leaning if style == "chat" else None,
                             "leaning_schedule": leaning, "reply": reply,
                             "coder": max(probs, key=probs.get) if probs else None,
                             "first_token_s": round(first_token_s, 2), "seconds": round(elapsed, 1),
                             "tokens": backend.count_tokens(reply)})
                print(json.dumps(rows[-1]), flush=True)
    backend.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--turns", type=int, default=7)
    parser.add_argument("--cards", nargs="+", choices=list(CARDS), default=list(CARDS))
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(args.model, args.turns, args.cards), indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
