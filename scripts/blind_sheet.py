"""A blind reading sheet from `simtrainer bench patient --json` runs, for docs/readings/.

    python3 scripts/blind_sheet.py OUT [--all] SEED BEFORE.json AFTER.json [SEED BEFORE.json AFTER.json ...]

Writes OUT/sheet.csv (what the reader sees: persona, the exchange before, the counselor's turn, the reply) and
OUT/key.csv (which run, seed, card, script and turn each row is, and whether the reply is a card line: never shown
to the reader). Rows are the replies that differ between the two runs of a seed (both versions), or with --all
every reply of both runs; shuffled with a fixed seed. Give the reader docs/readings/INSTRUCTIONS.md and the sheet.
"""

import csv
import json
import random
import sys
from pathlib import Path

from simtrainer.bench.scripts import GENERIC_MI_SCRIPTS, MI_SCRIPTS
from simtrainer.patient.lines import card_lines
from simtrainer.scenarios import get_card


def card_texts(card) -> set[str]:
    return ({line.text for line in card_lines(card)} | set(card.pressure_reactions) | set(card.reveal_when_trusted)
            | {text for reaction in card.reactions for text in reaction.lines})


def rows(seed: str, before: dict, after: dict, every: bool) -> list[dict]:
    out = []
    for card_id in before["per_card"]:
        card = get_card(card_id)
        authored = card_texts(card)
        scripts = MI_SCRIPTS.get(card_id) or GENERIC_MI_SCRIPTS
        for script in ("consistent", "inconsistent"):
            lines = scripts[script]
            runs = (("before", before["per_card"][card_id][script]["replies"]),
                    ("after", after["per_card"][card_id][script]["replies"]))
            for turn, line in enumerate(lines, start=1):
                if not every and runs[0][1][turn - 1] == runs[1][1][turn - 1]:
                    continue
                for label, replies in runs:
                    out.append({"persona": card.summary,
                                "earlier_counselor": lines[turn - 2] if turn > 1 else "(start of the session)",
                                "earlier_client": replies[turn - 2] if turn > 1 else card.opening_line,
                                "counselor": line, "client": replies[turn - 1],
                                "_key": {"run": label, "seed": seed, "card": card_id, "script": script,
                                         "turn": turn, "card_line": int(replies[turn - 1] in authored)}})
    return out


def main(argv: list[str]) -> None:
    every = "--all" in argv
    args = [a for a in argv if a != "--all"]
    out, triples = Path(args[0]), args[1:]
    items = []
    for seed, before, after in zip(triples[0::3], triples[1::3], triples[2::3], strict=True):
        items += rows(seed, json.loads(Path(before).read_text()), json.loads(Path(after).read_text()), every)
    random.Random(2027).shuffle(items)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "sheet.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "persona", "earlier_counselor", "earlier_client", "counselor", "client"])
        writer.writeheader()
        writer.writerows({"id": i, **{k: v for k, v in item.items() if k != "_key"}}
                         for i, item in enumerate(items, start=1))
    with open(out / "key.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["id", "run", "seed", "card", "script", "turn", "card_line"])
        writer.writeheader()
        writer.writerows({"id": i, **item["_key"]} for i, item in enumerate(items, start=1))
    print(f"{len(items)} rows in {out / 'sheet.csv'}")


if __name__ == "__main__":
    main(sys.argv[1:])
