import json
import re
from collections import Counter
from pathlib import Path

import pytest

from simtrainer.resources import data_folder
from simtrainer.scenarios import load_cards
from simtrainer.scenarios.loader import parse_card
from simtrainer.scenarios.quality import shortfalls

GOOD = data_folder("scenarios") / "mi-alcohol-nurse.toml"


def test_shipped_cards_are_valid_and_diverse():
    cards, problems = load_cards([data_folder("scenarios")])
    assert problems == []
    per_modality = Counter(c.modality for c in cards)
    assert all(per_modality[m] >= 8 for m in ("mi", "dearman", "cbt")), per_modality
    assert len({c.person.age // 10 for c in cards}) >= 8  # ages span eight decades, teens to eighties
    for card in cards:
        assert (card.dearman is not None) == (card.modality == "dearman")
        assert (card.cbt is not None) == (card.modality == "cbt")


@pytest.mark.parametrize("card", load_cards([data_folder("scenarios")])[0], ids=lambda c: c.id)
def test_shipped_card_has_lines_for_a_long_session(card):
    """Enough distinct lines per leaning that a 20-turn session need not repeat a kind of line; every trigger has
    its scripted reaction; the card's own lines are in character and never contradict its facts."""
    assert shortfalls(card) == []


def test_the_bar_names_each_shortfall():
    card, _ = parse_card(GOOD)
    thin = card.model_copy(update={
        "lines": [line for line in card.lines if line.leaning != "neutral"][:-1] + [card.lines[0]],
        "reactions": card.reactions[1:],
        "pressure_reactions": [*card.pressure_reactions, card.lines[1].text],
    })
    found = shortfalls(thin)
    text = "\n".join(f"{field}: {what}" for field, what in found)
    assert "lines: 0 neutral lines; write at least 8" in text
    assert f'lines #1: "{card.lines[0].text.casefold()}" is written 2 times' in text  # where to find it
    assert "repeats a voice example, the opening line, a disclosure or a pressure line" in text
    assert f'no [[reactions]] for the trigger "{card.reactions[0].trigger}"' in text
    assert all(re.fullmatch(r"lines|lines\.theme|reactions|facts|lines #\d+|reactions #\d+ line \d+", field)
               for field, _ in found)


def test_every_card_knows_its_age():
    """The facts are not vacuous: each card's age fact ("Dana is 34") rejects a wrong age said in the first person
    and lets the right one through."""
    cards, _ = load_cards([data_folder("scenarios")])
    for card in cards:
        age = card.person.age
        patterns = [re.compile(p, re.IGNORECASE) for f in card.facts if re.search(rf"\b{age}\b", f.claim)
                    for p in f.contradicted_by]
        assert patterns, f"{card.id} has no fact naming the age {age}"
        assert any(p.search(f"I'm {age + 30 if age < 50 else age - 30} years old") for p in patterns), card.id
        assert not any(p.search(f"I'm {age} years old") for p in patterns), card.id


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_broken_card_reports_file_field_and_fix_and_keeps_good_ones(tmp_path):
    good = _write(tmp_path, "good.toml", GOOD.read_text())
    text = GOOD.read_text().replace('modality = "mi"', 'modality = "mindfulness"').replace(
        'id = "mi-alcohol-nurse"', 'id = "broken-one"'
    )
    bad = _write(tmp_path, "bad.toml", text)
    cards, problems = load_cards([tmp_path])
    assert [c.id for c in cards] == ["mi-alcohol-nurse"]
    assert len(problems) == 1
    assert problems[0].file == str(bad) and problems[0].field == "modality"
    assert "'mi'" in problems[0].fix
    assert good.exists()


def test_missing_field_typo_and_syntax_errors(tmp_path):
    missing = _write(tmp_path, "a.toml", GOOD.read_text().replace('opening_line = "', 'opneing_line = "'))
    _, problems = parse_card(missing)
    fields = {p.field: p.fix for p in problems}
    assert "opening_line" in fields and "add `opening_line" in fields["opening_line"]
    assert "opneing_line" in fields and "spelling" in fields["opneing_line"]
    syntax = _write(tmp_path, "b.toml", 'id = "x\n')
    _, problems = parse_card(syntax)
    assert problems[0].field == "(syntax)" and "line 1" in problems[0].message


def test_dearman_card_needs_its_table(tmp_path):
    text = (data_folder("scenarios") / "dearman-roommate-noise.toml").read_text()
    path = _write(tmp_path, "d.toml", text[: text.index("[dearman]")])
    _, problems = parse_card(path)
    assert "[dearman]" in problems[0].message


def test_duplicate_ids_are_reported(tmp_path):
    _write(tmp_path, "a.toml", GOOD.read_text())
    _write(tmp_path, "b.toml", GOOD.read_text())
    cards, problems = load_cards([tmp_path])
    assert len(cards) == 1 and problems[0].field == "id"


def test_cli_list_json_and_show(cli):
    listed = json.loads(cli("scenarios", "list", "--json").stdout)
    assert {"id", "title", "modality"} <= set(listed[0])
    assert len(listed) >= 24
    assert {c["modality"] for c in json.loads(cli("scenarios", "list", "--json", "--modality", "cbt").stdout)} == {"cbt"}
    assert "Dana" in cli("scenarios", "show", "mi-alcohol-nurse").output


def test_cli_validate(cli, tmp_path):
    ok = cli("scenarios", "validate", str(GOOD))
    assert ok.exit_code == 0 and "ok" in ok.output and "Note:" not in ok.output  # a shipped card is read
    elsewhere = _write(tmp_path, "mine.toml", GOOD.read_text())
    note = cli("scenarios", "validate", str(elsewhere))
    assert note.exit_code == 0 and "is not in a folder simtrainer reads cards from" in note.output
    assert str(Path("data") / "scenarios") in note.output
    assert cli("scenarios", "validate", "--strict", str(GOOD)).exit_code == 0  # a shipped card meets the bar
    text = GOOD.read_text()
    first = re.search(r'text = "([^"]+)"', text).group(1)
    thin = _write(tmp_path, "thin.toml", text.replace(first, "Same line.").replace(
        re.findall(r'text = "([^"]+)"', text)[1], "Same line."))
    assert cli("scenarios", "validate", str(thin)).exit_code == 0  # well formed
    strict = cli("scenarios", "validate", "--strict", str(thin))
    assert strict.exit_code == 2 and "Short of the shipped cards' bar mi-alcohol-nurse" in strict.output
    assert 'lines #1: "same line." is written 2 times' in strict.output and "ok  mi-alcohol-nurse" not in strict.output
    bad = _write(tmp_path, "bad.toml", GOOD.read_text().replace('difficulty = "moderate"', "difficulty = 3"))
    result = cli("scenarios", "validate", str(GOOD), str(bad))
    assert result.exit_code == 2
    assert "difficulty" in result.output and str(bad) in result.output


def test_user_cards_folder_is_listed(cli, home):
    folder = home / "data" / "scenarios"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text(GOOD.read_text().replace('id = "mi-alcohol-nurse"', 'id = "my-own-card"'))
    ids = [c["id"] for c in json.loads(cli("scenarios", "list", "--json").stdout)]
    assert "my-own-card" in ids
