"""`code`, `eval` and `train`: the feedback models from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from simtrainer.cli.output import console, print_json, table
from simtrainer.errors import UserError
from simtrainer.text_safety import plain

DEFAULT_ANNOMI = Path(__file__).resolve().parents[3] / "shared" / "data" / "annomi"


@click.command()
@click.argument("text")
@click.option("--context", help="The previous turn (what the other speaker just said).")
@click.option("--earlier", help="The turn before --context (usually the speaker's own previous turn).")
@click.option("--patient", is_flag=True, help="Code TEXT as a patient's words (change / sustain / neutral talk).")
@click.option("--json", "as_json", is_flag=True)
def code(text: str, context: str | None, earlier: str | None, patient: bool, as_json: bool) -> None:
    """Code one utterance with the MI coder (MITI codes with confidence and a reason)."""
    from simtrainer.feedback.mi import load_mi_coder

    coder = load_mi_coder()
    codes = (coder.code_patient if patient else coder.code)(text, context, earlier)
    if as_json:
        print_json({"text": text, "context": context, "earlier": earlier, "scorer": coder.scorer,
                    "codes": [c.as_json() for c in codes]})
        return
    for c in codes:
        conf = f"{c.confidence:.0%}" if c.confidence is not None else "-"
        mark = "uncertain" if c.uncertain else ""
        console.print(Text.assemble(plain(f"{c.label:10}", "bold"), f" {conf:>5} ", plain(f"{mark:9}", "yellow"),
                                    " ", plain(c.reason)))
        if c.runner_up:
            console.print(plain(f"  runner-up: {c.runner_up}", "dim"))
    console.print(plain(f"scorer: {coder.scorer}", "dim"))


@click.group(name="eval")
def eval_group() -> None:
    """Measure the coders on labelled data."""


@eval_group.command("annomi")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def eval_annomi(path: Path, as_json: bool) -> None:
    """Score the MI coder on an AnnoMI-format CSV (simple or full): macro-F1, accuracy, per-class F1, confusion.
    Therapist tasks come from the AnnoMI model, client talk from the client-talk head the sessions use."""
    from simtrainer.feedback.mi import load_mi_coder
    from simtrainer.feedback.mi.annomi import read_annomi
    from simtrainer.feedback.mi.metrics import task_report

    utts, fmt = read_annomi(path)
    if not utts:
        raise UserError("The CSV has no utterances.", where=str(path), fix="Give a CSV with AnnoMI rows.")
    coder = load_mi_coder()
    predictions = coder.model.predict_many(utts)
    for u, p in zip(utts, predictions, strict=True):
        if "client_talk_type" in p:  # client talk comes from the learned head, as in a session
            talk = coder.talk_probabilities(u.text, u.prev, u.earlier)
            p["client_talk_type"] = max(talk, key=talk.get)
    tasks = ["therapist_behaviour", "client_talk_type"] + (["reflection", "question"] if fmt == "full" else [])
    report = {}
    for task in tasks:
        pairs = [(u.labels[task], p[task]) for u, p in zip(utts, predictions, strict=True) if task in u.labels]
        if pairs:
            report[task] = task_report(task, pairs)
    if as_json:
        print_json(report)
        return
    console.print(f"{len(utts)} utterances ({fmt} format), scorer: {coder.scorer}")
    for task, r in report.items():
        console.print(f"\n[bold]{task}[/]  macro-F1 {r['macro_f1']:.3f}  accuracy {r['accuracy']:.3f}  (n={r['n']})")
        labels = list(r["confusion"])
        cols = list(next(iter(r["confusion"].values())))
        table(["gold \\ predicted", *cols, "F1"],
              [[g, *[r["confusion"][g][c] for c in cols], f"{r['per_class_f1'][g]:.3f}"] for g in labels])


def _print_head_report(report: dict, title: str, column: str) -> None:
    console.print(plain(f"{title}: {report['n']} lines from {report['file']}, scorer: {report['scorer']}"))
    console.print(f"[bold]macro-F1 {report['macro_f1']:.3f}[/]  accuracy {report['accuracy']:.3f}")
    table([column, "precision", "recall", "F1", "n"],
          [[k, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"]]
           for k, v in report["per_label"].items()])
    if report["confusions"]:
        table(["gold", "predicted", "n"], [[c["gold"], c["predicted"], c["n"]] for c in report["confusions"][:12]],
              title="most frequent confusions")
    u = report["uncertain"]
    if u["n"]:
        console.print(f"marked uncertain (confidence < {u['threshold']:.2f}): {u['n']} lines, right {u['accuracy']:.0%}"
                      f"; the others right {u['accuracy_certain']:.0%}" if u["accuracy_certain"] is not None else "")


def _head_eval(path: Path | None, kind: str, as_json: bool, title: str) -> None:
    """`eval mi-codes` (kind "code") and `eval client-talk` (kind "talk")."""
    from simtrainer.feedback.mi import load_mi_coder
    from simtrainer.feedback.mi.code_eval import default_path, evaluate

    report = evaluate(path or default_path(kind), kind, load_mi_coder())
    if as_json:
        print_json(report)
    else:
        _print_head_report(report, title, kind)


@eval_group.command("mi-codes")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def eval_mi_codes(path: Path | None, as_json: bool) -> None:
    """Score the learned MI code head on a CSV (setting,register,previous,utterance,code; default
    evaluation/mi_codes.csv): per-code precision / recall / F1, macro-F1, confusions."""
    _head_eval(path, "code", as_json, "MI codes")


@eval_group.command("client-talk")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def eval_client_talk(path: Path | None, as_json: bool) -> None:
    """Score the client-talk head on a CSV (setting,register,previous,utterance,talk; default
    evaluation/client_talk.csv): per-type precision / recall / F1, macro-F1, confusions."""
    _head_eval(path, "talk", as_json, "client talk")


@eval_group.command("rules")
@click.option("--json", "as_json", is_flag=True)
def eval_rules(as_json: bool) -> None:
    """Score the rule codes (AF, Seek, Auto, Confront, Persuade) and the coder's client talk (model and rules)
    on the project's dev and held-out sets."""
    from simtrainer.feedback.mi.rule_eval import evaluate_client_talk, evaluate_rules

    report = evaluate_rules()
    talk = evaluate_client_talk()
    if as_json:
        print_json({**report, "client_talk": talk})
        return
    for split, r in report.items():
        console.print(f"[bold]{split}[/] ({r['n']} utterances): exact-match {r['exact_match']:.3f}, "
                      f"macro-F1 {r['macro_f1']:.3f}")
        table(["code", "F1"], [[k, f"{v:.3f}"] for k, v in r["per_code_f1"].items()])
    for split, r in talk.items():
        console.print(f"[bold]client talk, {split}[/] ({r['n']} patient lines): macro-F1 {r['macro_f1']:.3f}, "
                      f"accuracy {r['accuracy']:.3f}")
        table(["talk", "F1"], [[k, f"{v:.3f}"] for k, v in r["per_class_f1"].items()])


@click.group()
def train() -> None:
    """Rebuild the shipped models (needs `pip install -e '.[train]'`)."""


@train.command("dearman-coder")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: the shipped models/dearman-coder).")
def train_dearman_cmd(out: Path | None) -> None:
    """Rebuild the DEAR MAN coder from the project's labelled data (models/dearman-coder/corpus-*.csv and
    sentences.toml); thresholds by cross-validation grouped by situation."""
    from simtrainer.feedback.dearman.data import folder
    from simtrainer.feedback.dearman.train import train_dearman

    print_json(train_dearman(out or folder()))


@train.command("ctrs-scorer")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: the shipped models/ctrs-scorer).")
def train_ctrs_cmd(out: Path | None) -> None:
    """Rebuild the CTRS scorer from the project's rated sessions (models/ctrs-scorer/sessions-both-*.json)."""
    from simtrainer.feedback.ctrs.data import folder
    from simtrainer.feedback.ctrs.train import train_ctrs

    print_json(train_ctrs(out or folder()))


@eval_group.command("ctrs")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--llm", "use_llm", is_flag=True, help="Score the LLM judge (the configured model) instead.")
@click.option("--json", "as_json", is_flag=True)
def eval_ctrs(path: Path | None, use_llm: bool, as_json: bool) -> None:
    """Score the CTRS scorer on rated sessions, with both speakers or trainee turns only (default: the project's
    held-out sessions)."""
    from simtrainer.feedback.ctrs.evaluate import evaluate

    report = evaluate(path, _judge("ctrs") if use_llm else None)
    if as_json:
        print_json(report)
        return
    low, high = report["predicted_total_range"]
    console.print(f"{report['n']} sessions: total-score r {report['total_r']:.3f}, competence (>= 40) agreement "
                  f"{report['competence_agreement']}, item MAE {report['item_mae']:.2f}, predicted totals {low}-{high}")
    table(["item", "MAE"], [[k, f"{v:.2f}"] for k, v in report["per_item_mae"].items()])


@eval_group.command("dearman")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--llm", "use_llm", is_flag=True, help="Score the LLM judge (the configured model) instead.")
@click.option("--json", "as_json", is_flag=True)
def eval_dearman(path: Path | None, use_llm: bool, as_json: bool) -> None:
    """Score the DEAR MAN coder on labelled utterances (default: the held-out roommate scenario). PATH: a CSV with
    `utterance`, `skills` (names separated by ; or |) and optionally `flag` (threat, insult, ultimatum)."""
    from simtrainer.feedback.dearman.evaluate import evaluate

    report = evaluate(path, _judge("dearman") if use_llm else None)
    if as_json:
        print_json(report)
        return
    console.print(f"{report['n']} utterances: macro-F1 {report['macro_f1']:.3f} over the seven skills")
    table(["skill", "precision", "recall", "F1"],
          [[k, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}"] for k, v in report["per_skill"].items()])
    if report["flags"]:
        table(["flag", "gold", "found", "precision", "recall"],
              [[k, str(v["gold"]), str(v["predicted"]), f"{v['precision']:.3f}", f"{v['recall']:.3f}"]
               for k, v in report["flags"].items()])


def _judge(rubric: str):
    """The LLM judge on the configured model, for `eval --llm`."""
    from simtrainer.config import load_settings
    from simtrainer.feedback.llm_judge import LLMJudge
    from simtrainer.llm import open_backend
    from simtrainer.rubrics import load_rubric

    if rubric == "dearman":
        from simtrainer.feedback.dearman.coder import load_dearman_coder as load
    else:
        from simtrainer.feedback.ctrs.scorer import load_ctrs_scorer as load
    return LLMJudge(load_rubric(rubric), open_backend(load_settings()), load().summarize)


@click.group()
def rubrics() -> None:
    """The rubrics (MI, DEAR MAN, CTRS) as data."""


@rubrics.command("list")
@click.option("--json", "as_json", is_flag=True)
def rubrics_list(as_json: bool) -> None:
    """Every rubric with its items (id, name, max) and thresholds."""
    from simtrainer.rubrics import RUBRIC_IDS, load_rubric

    listing = [load_rubric(r).as_listing() for r in RUBRIC_IDS]
    if as_json:
        print_json(listing)
        return
    for r in listing:
        extra = f", competence at {r['competence_threshold']}" if "competence_threshold" in r else ""
        console.print(f"[bold]{r['id']}[/] — {r['name']} ({len(r['items'])} items{extra})")
        console.print("  " + ", ".join(f"{i['name']} (0-{i['max']})" for i in r["items"]))


@train.command("mi-coder")
@click.option("--data", type=click.Path(path_type=Path), default=DEFAULT_ANNOMI, show_default=True,
              help="AnnoMI folder (or a full-format CSV).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: the shipped models/mi-coder).")
@click.option("--folds", default=5, show_default=True,
              help="Transcript-level CV folds first (0 skips CV; each fold fine-tunes the encoder again).")
@click.option("--tune-epochs", default=2, show_default=True, type=click.IntRange(min=1),
              help="Epochs of fine-tuning the encoder (about 5 minutes each on two CPU cores).")
@click.option("--extra", "extra", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="More AnnoMI-format CSV data, e.g. from `simtrainer export corrections` (repeatable).")
@click.option("--codes-only", is_flag=True,
              help="Retrain only the learned code and client-talk heads on the shipped encoder (no torch; minutes).")
@click.option("--corpus", type=click.Path(path_type=Path, file_okay=False),
              help="The heads' corpus folder (default: models/mi-coder/corpus).")
def train_mi(data: Path, out: Path | None, folds: int, tune_epochs: int, extra: tuple[Path, ...], codes_only: bool,
             corpus: Path | None) -> None:
    """Train the MI coder: on AnnoMI, logistic regression on frozen MiniLM features and TF-IDF mixed per task
    with a fine-tuned MiniLM (needs the [train] extra; about an hour on two CPU cores with --folds 5, a CUDA GPU
    does the fine-tuning), then the learned heads for the 11 MITI codes and client talk on the project's corpus
    and AnnoMI (settings held out in --folds cross-validation)."""
    from simtrainer.feedback.mi.coder import default_model_dir
    from simtrainer.feedback.mi.train import train_mi_coder
    from simtrainer.feedback.mi.train_heads import train_heads

    if not data.exists():
        raise UserError("The AnnoMI data is not there.", where=str(data), fix="Pass --data DIR.")
    full = data / "AnnoMI-full-train.csv" if data.is_dir() else data
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    shipped = default_model_dir()
    report = {}
    if not codes_only:
        meta = train_mi_coder(data, out or shipped, folds=folds, tune_epochs=tune_epochs, extra=list(extra), log=log)
        report["annomi"] = meta.get("cross_validation", {})
    model_dir = shipped if codes_only else out or shipped  # where the encoder the heads read is
    heads = train_heads(model_dir, full, corpus=corpus or shipped / "corpus", out_dir=out or shipped,
                        rule_dev=shipped / "rule_codes_dev.csv", folds=folds, log=log)
    report.update({name: heads[name].get("cross_validation", {}) for name in ("code_head", "talk_head")})
    print_json(report)



@train.command("answer-check")
@click.option("--pairs", type=click.Path(path_type=Path, file_okay=False),
              help="Folder of hand-labelled pair CSVs (default: the shipped models/answer-check/corpus).")
@click.option("--annomi", type=click.Path(path_type=Path), default=DEFAULT_ANNOMI, show_default=True,
              help="AnnoMI folder or CSV: held-out transcripts help choose the mix with the encoder similarity.")
@click.option("--train-on-annomi", is_flag=True,
              help="Also train on AnnoMI's other transcripts (measured: it did not help; docs/patient.md).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: the shipped models/answer-check).")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1),
              help="Epochs of fine-tuning (about 7 minutes in all on two CPU cores for the written pairs alone).")
def train_answer_cmd(pairs: Path | None, annomi: Path, train_on_annomi: bool, out: Path | None, epochs: int) -> None:
    """Rebuild the patient's answer check: a cross-encoder fine-tuned on hand-labelled (turn, reply) pairs, its
    threshold chosen on evaluation/patient_relevance_dev.csv and held-out settings (needs the [train] extra)."""
    from simtrainer.bench.relevance import DEV_SET, evaluation_folder, read_rows
    from simtrainer.patient.answer_model import default_folder
    from simtrainer.patient.answer_train import train_answer_check

    folder = evaluation_folder()
    if folder is None or not (folder / DEV_SET).is_file():
        raise UserError("The relevance dev set is not there.", where=f"evaluation/{DEV_SET}",
                        fix="Run from a checkout of simtrainer, which has the evaluation folder.")
    written = pairs or default_folder() / "corpus"
    if not written.is_dir() or not any(written.glob("*.csv")):
        raise UserError("There are no pair CSVs to train on.", where=str(written),
                        fix="Pass --pairs DIR with CSVs of setting,context,trainee,reply,relevant.")
    annomi_csv = annomi / "AnnoMI-simple-train.csv" if annomi.is_dir() else annomi
    if train_on_annomi and not annomi_csv.is_file():
        raise UserError("The AnnoMI CSV is not there.", where=str(annomi_csv), fix="Pass --annomi DIR.")
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    print_json(train_answer_check(out or default_folder(), read_rows(folder / DEV_SET), written=written,
                                  annomi=annomi_csv if annomi_csv.is_file() else None,
                                  train_on_annomi=train_on_annomi, epochs=epochs, log=log))


COMMANDS = [code, eval_group, train, rubrics]
