"""`bench`: print measured speed and memory figures."""

from __future__ import annotations

import click

from simtrainer.cli.output import print_json, table
from simtrainer.config import load_settings
from simtrainer.errors import UserError


@click.group()
def bench() -> None:
    """Measure speed and memory on this machine."""


@bench.command("patient")
@click.option("-s", "--scenario", "scenario_id", default="mi-alcohol-nurse", show_default=True)
@click.option("-m", "--model", help="Model name or .gguf path (default: the configured model).")
@click.option("--turns", default=30, show_default=True, type=click.IntRange(1, 200))
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1, 50),
              help="Rounds over the last 8 turns' prompts for the app vs raw speed figures.")
@click.option("--quick", is_flag=True, help="Skip the realism scripts over every MI card.")
@click.option("--card", "card_ids", multiple=True, metavar="ID",
              help="Run the realism scripts on this MI card only (repeat for more; default: every MI card).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_patient_cmd(scenario_id: str, model: str | None, turns: int, rounds: int, quick: bool,
                      card_ids: tuple[str, ...], as_json: bool) -> None:
    """Load time, first-token time at turns 1/10/30, app vs raw tokens/s, memory; patient realism."""
    from simtrainer.bench.patient import bench_patient
    from simtrainer.scenarios import get_card, load_cards, scenario_dirs

    settings = load_settings()
    cards, _ = load_cards(scenario_dirs(settings))
    mi_cards = [] if quick else [c for c in cards if c.modality == "mi"]
    unknown = sorted(set(card_ids) - {c.id for c in mi_cards})
    if unknown and not quick:
        raise UserError(f"No MI card called {', '.join(unknown)}.", where="--card",
                        fix=f"Use one of: {', '.join(c.id for c in mi_cards)}.")
    if card_ids:
        mi_cards = [c for c in mi_cards if c.id in card_ids]
    result = bench_patient(settings, get_card(scenario_id, settings), model=model, turns=turns, rounds=rounds,
                           mi_cards=mi_cards)
    if as_json:
        print_json(result)
    else:
        per_card = result.pop("per_card", {})
        check = result.pop("relevance_check", None) or {}
        table(["figure", "value"], [[k, v] for k, v in result.items()], title="bench patient")
        table(["relevance check on", "n", "accuracy", "precision", "recall", "f1", "threshold"],
              [[name, f["n"], f["accuracy"], f["precision"], f["recall"], f["f1"], f["threshold"]]
               for name, f in check.items() if f])
        table(["card", "script", "change", "sustain", "neutral", "final stage"],
              [[cid, kind, r["change"], r["sustain"], r["neutral"], r["final_state"]["stage"]]
               for cid, kinds in per_card.items() for kind, r in kinds.items() if isinstance(r, dict)])


@bench.command("coder")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_coder_cmd(rounds: int, as_json: bool) -> None:
    """Per-utterance coding latency (p50 / p95 ms) and throughput, per rubric."""
    from simtrainer.bench.coder import bench_coder

    result = bench_coder(rounds)
    if as_json:
        print_json(result)
        return
    table(
        ["coder", "n", "p50 ms", "p95 ms", "max ms", "per second"],
        [[name, r["n"], r["p50_ms"], r["p95_ms"], r["max_ms"], r["throughput_per_s"]]
         for name, r in result["rubrics"].items()],
        title=f"bench coder — {result['scorer']}",
    )


@bench.command("tui")
@click.option("-s", "--scenario", "scenario_id", default="mi-alcohol-nurse", show_default=True)
@click.option("-m", "--model", help="Model name or .gguf path (default: the configured model).")
@click.option("--turns", default=5, show_default=True, type=click.IntRange(1, 30))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_tui_cmd(scenario_id: str, model: str | None, turns: int, as_json: bool) -> None:
    """Keystroke-to-echo latency while a reply streams; does the UI keep up with the token rate?"""
    from simtrainer.bench.tui import bench_tui

    result = bench_tui(load_settings(), model=model, scenario_id=scenario_id, turns=turns)
    if as_json:
        print_json(result)
    else:
        table(["figure", "value"], [[k, v] for k, v in result.items()], title="bench tui")


@bench.command("speech")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_speech_cmd(as_json: bool) -> None:
    """Speech-to-text and text-to-speech real-time factors, time to the patient's first audio, WER."""
    from simtrainer.bench.speech import bench_speech

    result = bench_speech(load_settings().speech)
    if as_json:
        print_json(result)
    else:
        table(["figure", "value"], [[k, v] for k, v in result.items()], title="bench speech")


@bench.command("llama")
@click.option("-m", "--model", help="Model name or .gguf path (default: the configured model).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_llama_cmd(model: str | None, rounds: int, as_json: bool) -> None:
    """Prompt and generation tokens/s with llama.cpp's extra buffer types on and off, and their ratio."""
    from simtrainer.bench.llama import bench_llama
    from simtrainer.llm import resolve_model
    from simtrainer.llm.probe import check_model_runs

    settings = load_settings()
    entry = resolve_model(settings, model)
    if entry.path is None:
        raise UserError(f"'{entry.name}' is not a local GGUF model.", fix="Pick a model with backend llamacpp.")
    probe = check_model_runs(entry.path, n_threads=settings.n_threads)
    result = bench_llama(entry.path, extra_ok=probe.extra_buffers, rounds=rounds, n_threads=settings.n_threads)
    if as_json:
        print_json(result)
    else:
        table(["figure", "value"], [[k, v] for k, v in result.items()], title="bench llama")


@bench.command("classroom")
@click.option("--students", default=5, show_default=True, type=click.IntRange(1, 200),
              help="Scripted students practising at once.")
@click.option("--turns", default=3, show_default=True, type=click.IntRange(1, 30), help="Turns each student sends.")
@click.option("-s", "--scenario", "scenario_id", default="mi-alcohol-nurse", show_default=True)
@click.option("--server", metavar="URL",
              help="Bench this running OpenAI-compatible server (its API root, e.g. http://HOST:8080/v1) instead "
                   "of starting llama.cpp's with the configured model.")
@click.option("--server-model", metavar="NAME", help="The model name to ask --server for (default: the first it "
                                                       "lists).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_classroom_cmd(students: int, turns: int, scenario_id: str, server: str | None, server_model: str | None,
                        as_json: bool) -> None:
    """N students at once on one shared model: p50/p95 first-token and reply time, errors, turns saved.

    Starts llama.cpp's OpenAI-compatible server on 127.0.0.1 with the configured GGUF (stopped at the end, on
    Ctrl-C too), or uses --server. Each student runs a real scripted session in its own data folder."""
    from simtrainer.bench.classroom import bench_classroom

    if server is not None and "://" not in server:
        raise UserError(f"'{server}' is not a server address.", where="--server",
                        fix="Give its OpenAI API root, e.g. http://127.0.0.1:8080/v1")
    if server_model is not None and server is None:
        raise UserError("--server-model needs --server.", fix="Add --server URL, or leave --server-model out.")
    result = bench_classroom(load_settings(), students=students, turns=turns, scenario_id=scenario_id,
                             server=server, server_model=server_model)
    if as_json:
        print_json(result)
    else:
        table(["figure", "value"], [[k, v] for k, v in result.items()], title="bench classroom")



@bench.command("relevance")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_relevance_cmd(as_json: bool) -> None:
    """Both relevance checks (encoder similarity, answer check) on the hand-labelled sets in evaluation/:
    accuracy, F1 and accuracy balanced over shared words (answers or not x shares the turn's words or not) at each
    check's threshold; --json adds precision and recall."""
    from simtrainer.bench.relevance import compare, evaluation_folder
    from simtrainer.feedback.mi import load_mi_coder
    from simtrainer.patient.answer_model import load_answer_model
    from simtrainer.patient.relevance import AnswerCheck

    if evaluation_folder() is None:
        raise UserError("The evaluation folder is not there.", where="evaluation/",
                        fix="Run from a checkout of simtrainer, which has it.")
    embed = load_mi_coder().model.encoder
    result = compare(embed, AnswerCheck(embed, load_answer_model()))
    if as_json:
        print_json(result)
        return
    table(["set", "check", "n", "accuracy", "balanced", "f1", "threshold"],
          [[name, check, f["n"], f["accuracy"], f["overlap_balanced_accuracy"], f["f1"], f["threshold"]]
           for name, checks in result.items() for check, f in checks.items()], title="bench relevance")


@bench.command("triggers")
@click.option("--json", "as_json", is_flag=True, help="Print the figures (and every mistake) as JSON.")
def bench_triggers_cmd(as_json: bool) -> None:
    """The trigger rules on turns labelled by another hand (evaluation/trigger_probes.csv): the right trigger
    where one was meant, and near-misses taken for a trigger, on shipped cards and on an outside writer's."""
    from simtrainer.bench.relevance import evaluation_folder
    from simtrainer.bench.triggers import compare
    from simtrainer.feedback.mi import load_mi_coder

    folder = evaluation_folder()
    if folder is None:
        raise UserError("The evaluation folder is not there.", where="evaluation/",
                        fix="Run from a checkout of simtrainer, which has it.")
    coder = load_mi_coder()
    result = compare(folder, lambda turn: [c.code for c in coder.code(turn, None, None)])
    if as_json:
        print_json(result)
        return
    table(["cards", "n", "accuracy", "right trigger", "any trigger", "wrong trigger", "near-miss hit"],
          [[name.removesuffix("_cards"), f["n"], f["accuracy"], f["hit_recall"], f["any_hit_recall"], f["wrong_trigger"], f["false_hit_rate"]]
           for name, f in result.items() if name != "mistakes"], title="bench triggers")


COMMANDS = [bench]
