"""Train the learned heads (`head.py`): the 11 MITI codes of counselor lines and the talk type of client lines.

No fine-tuning and no torch: the features come from the shipped int8 encoder (`encoder.onnx`), so
`simtrainer train mi-coder --codes-only` rebuilds both heads on two CPU cores in minutes. Needs scikit-learn.

Training data, each row weighted so that every code counts the same in the loss:
- the project's corpus (models/mi-coder/corpus/): `a-*.csv`, `b-*.csv` for codes and `client-*.csv` for client
  talk, columns setting, register, previous, utterance, code | talk;
- models/mi-coder/rule_codes_dev.csv (its rows with one of the 11 codes; "NONE" rows are skipped);
- AnnoMI, mapped to codes only where the mapping is sound: question -> Q, simple / complex reflection -> SR / CR,
  input "information" -> GI, input "negotiation" -> SEEK (goal and plan setting with the client: half weight),
  "other" -> NEUTRAL (a fifth of the weight: AnnoMI files affirmations, autonomy and greetings alike under
  "other"). Input "advice" is left out: MITI codes advice as Persuade or as Persuade with permission depending
  on whether the client asked or agreed, which AnnoMI does not record; "options" likewise. Client turns keep
  their talk type.

Cross-validation holds out whole settings of the corpus (a setting's lines never train the fold that scores
them); AnnoMI rows always train. The client-talk head is also cross-validated on AnnoMI's client turns by
transcript. The inverse regularisation C is chosen by that cross-validation, and so is the confidence below
which a code is marked uncertain (where the top code's held-out accuracy falls under UNCERTAIN_ACCURACY).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simtrainer.csv_columns import require_columns
from simtrainer.errors import UserError
from simtrainer.feedback.mi.annomi import Utterance
from simtrainer.feedback.mi.features import ANALYZERS
from simtrainer.feedback.mi.head import CODES, SPARSE, TALK, dense_blocks
from simtrainer.feedback.mi.metrics import task_report
from simtrainer.feedback.mi.model import FILES, Encoder

MIN_DF = {"word": 2, "char": 3}
MAX_FEATURES = {"word": 30000, "char": 60000}
# The last and the middle encoder layer rather than all seven: a fit on two cores takes a third of the time
CODE_DENSE = ("last", "mid", "prev", "product", "shape", "question", "rules")
TALK_DENSE = ("last", "mid", "prev", "product", "shape", "talk_rules")
# One value: a fit takes minutes on two busy cores, so the shipped heads were cross-validated at C = 1 only
# (pass c_grid to train_heads to search more)
C_GRID = (1.0,)
# lbfgs stops after this many iterations rather than at full convergence, to keep a fit to minutes on two cores
MAX_ITER = 150
UNCERTAIN_ACCURACY = 0.6
HEAD_VERSION = 7
ANNOMI_SHARE = 0.5  # AnnoMI's total weight, as a share of the corpus' total, before balancing the codes
ANNOMI_CODES = {"question": ("Q", 1.0), "simple": ("SR", 1.0), "complex": ("CR", 1.0), "information": ("GI", 1.0),
                "negotiation": ("SEEK", 0.5), "other": ("NEUTRAL", 0.2)}
CORPUS_COLUMNS = {"setting", "register", "previous", "utterance"}


@dataclass(frozen=True)
class Row:
    text: str
    prev: str
    label: str
    group: str  # what cross-validation holds out together: a corpus setting or an AnnoMI transcript
    source: str  # "corpus" | "rule_dev" | "annomi"
    weight: float = 1.0  # before class balancing


def _read_csv(path: Path, label_column: str, labels: tuple[str, ...]) -> list[Row]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            require_columns(reader.fieldnames, CORPUS_COLUMNS | {label_column}, str(path),
                            fix=f"Use the columns setting,register,previous,utterance,{label_column}.")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"Cannot read the CSV: {exc}", where=str(path), fix="Give a UTF-8 CSV file.") from None
    out = []
    for n, row in enumerate(rows, start=2):
        label = (row[label_column] or "").strip()
        label = label.upper() if label_column == "code" else label.lower()
        if label not in labels:
            raise UserError(f"Line {n}: unknown {label_column} {row[label_column]!r}.", where=str(path),
                            fix=f"Use one of: {', '.join(labels)}.")
        text = (row["utterance"] or "").strip()
        if text:
            out.append(Row(text, (row["previous"] or "").strip(), label, row["setting"].strip().lower(), "corpus"))
    return out


def read_labelled(path: Path, kind: str) -> list[Row]:
    """One evaluation or corpus CSV: kind "code" (11 MITI codes) or "talk" (change / neutral / sustain)."""
    if not path.is_file():
        raise UserError("The CSV does not exist.", where=str(path), fix="Check the path.")
    return _read_csv(path, kind, CODES if kind == "code" else TALK)


def read_corpus(folder: Path) -> tuple[list[Row], list[Row]]:
    """The corpus' code rows and client-talk rows (an absent folder gives none)."""
    codes = [r for pattern in ("a-*.csv", "b-*.csv") for p in sorted(folder.glob(pattern))
             for r in read_labelled(p, "code")]
    talk = [r for p in sorted(folder.glob("client-*.csv")) for r in read_labelled(p, "talk")]
    return _unique(codes), _unique(talk)


def _unique(rows: list[Row]) -> list[Row]:
    seen, out = set(), []
    for r in rows:
        if (r.text, r.prev) not in seen:
            seen.add((r.text, r.prev))
            out.append(r)
    return out


def read_rule_dev(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [Row(r["text"], "", r["codes"].strip(), "rule_codes_dev", "rule_dev")
                for r in csv.DictReader(handle) if r["codes"].strip() in CODES]


def annomi_rows(utts: list[Utterance]) -> tuple[list[Row], list[Row]]:
    """AnnoMI's therapist utterances mapped to codes (see the module docstring), and its labelled client turns."""
    codes, talk = [], []
    for u in utts:
        group = f"annomi:{u.transcript_id}"
        if u.speaker == "therapist":
            main = u.labels.get("therapist_behaviour")
            key = {"question": "question", "other": "other"}.get(main or "") or u.labels.get(
                "reflection" if main == "reflection" else "input" if main == "therapist_input" else "", "")
            if key in ANNOMI_CODES:
                code, weight = ANNOMI_CODES[key]
                codes.append(Row(u.text, u.prev, code, group, "annomi", weight))
        elif "client_talk_type" in u.labels:
            talk.append(Row(u.text, u.prev, u.labels["client_talk_type"], group, "annomi"))
    return codes, talk


def balanced_weights(rows: list[Row], labels: tuple[str, ...]) -> np.ndarray:
    """Each row's weight: AnnoMI's rows together weigh ANNOMI_SHARE of the others, then every label the same."""
    raw = np.array([r.weight for r in rows], dtype=np.float64)
    annomi = np.array([r.source == "annomi" for r in rows])
    if annomi.any() and (~annomi).any():
        raw[annomi] *= ANNOMI_SHARE * raw[~annomi].sum() / raw[annomi].sum()
    totals = Counter()
    for r, w in zip(rows, raw, strict=True):
        totals[r.label] += w
    present = [label for label in labels if totals[label] > 0]
    target = raw.sum() / len(present)
    return np.array([w * target / totals[r.label] for r, w in zip(rows, raw, strict=True)])


def embed(rows: list[Row], encoder: Encoder, names: tuple[str, ...], log: Callable[[str], None]) -> np.ndarray:
    """The dense features of every row (each distinct text goes through the encoder once)."""
    layers: dict[str, np.ndarray] = {}
    texts = {r.text for r in rows} | {r.prev for r in rows}
    for i, text in enumerate(sorted(texts)):
        layers[text] = encoder.layers(text)
        if i and i % 2000 == 0:
            log(f"  embedded {i} of {len(texts)} texts")
    out = []
    for r in rows:
        blocks = dense_blocks(layers[r.text], layers[r.prev][-1], r.text)
        out.append(np.concatenate([blocks[name] for name in names]))
    return np.stack(out).astype(np.float32)


def _vectorizers(texts: list[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {block: TfidfVectorizer(analyzer=ANALYZERS[analyzer], sublinear_tf=True, min_df=MIN_DF[analyzer],
                                   max_features=MAX_FEATURES[analyzer], lowercase=False).fit(texts)
            for block, analyzer in SPARSE}


def _matrix(texts: list[str], vectorizers, dense: np.ndarray):
    from scipy.sparse import csr_matrix, hstack

    return hstack([*(vectorizers[block].transform(texts) for block, _ in SPARSE), csr_matrix(dense)]).tocsr()


def fit(rows: list[Row], dense: np.ndarray, labels: tuple[str, ...], c_value: float):
    """Vectorizers and one multinomial logistic regression; coefficients laid out in `labels` order (a label
    absent from `rows` gets zero weights and a very low intercept)."""
    from sklearn.linear_model import LogisticRegression

    texts = [r.text for r in rows]
    vectorizers = _vectorizers(texts)
    X = _matrix(texts, vectorizers, dense)
    clf = LogisticRegression(C=c_value, max_iter=MAX_ITER)
    clf.fit(X, [r.label for r in rows], sample_weight=balanced_weights(rows, labels))
    coef = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
    intercept = np.full(len(labels), -30.0, dtype=np.float32)
    for k, label in enumerate(clf.classes_):
        j = labels.index(label)
        if len(clf.classes_) == 2:
            sign = 1 if k == 1 else -1
            coef[j], intercept[j] = sign * clf.coef_[0] / 2, sign * clf.intercept_[0] / 2
        else:
            coef[j], intercept[j] = clf.coef_[k], clf.intercept_[k]
    return vectorizers, coef, intercept


def predict(rows: list[Row], dense: np.ndarray, model) -> np.ndarray:
    vectorizers, coef, intercept = model
    z = np.asarray(_matrix([r.text for r in rows], vectorizers, dense) @ coef.T) + intercept
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def group_folds(groups: list[str], folds: int) -> list[set[str]]:
    """Groups dealt into folds of similar row counts, largest first (deterministic)."""
    sizes = Counter(groups)
    buckets: list[set[str]] = [set() for _ in range(folds)]
    loads = [0] * folds
    for group in sorted(sizes, key=lambda g: (-sizes[g], g)):
        k = loads.index(min(loads))
        buckets[k].add(group)
        loads[k] += sizes[group]
    return [b for b in buckets if b]


def held_out(rows: list[Row], dense: np.ndarray, labels: tuple[str, ...], c_value: float, scored: np.ndarray,
             folds: int, log: Callable[[str], None]) -> np.ndarray:
    """Probabilities for the `scored` rows, each from a model fit without its group; unscored rows always train."""
    probs = np.full((len(rows), len(labels)), np.nan)
    groups = [r.group for r, s in zip(rows, scored, strict=True) if s]
    for k, held in enumerate(group_folds(groups, folds)):
        test = np.array([s and r.group in held for r, s in zip(rows, scored, strict=True)])
        train = ~test
        model = fit([r for r, t in zip(rows, train, strict=True) if t], dense[train], labels, c_value)
        probs[test] = predict([r for r, t in zip(rows, test, strict=True) if t], dense[test], model)
        log(f"  C={c_value} fold {k + 1}: {len(held)} groups, {int(test.sum())} rows held out")
    return probs


def report(rows: list[Row], probs: np.ndarray, labels: tuple[str, ...], mask: np.ndarray) -> dict[str, Any]:
    pairs = [(r.label, labels[int(p.argmax())]) for r, p, m in zip(rows, probs, mask, strict=True) if m]
    return task_report("codes", pairs, labels)


def confidence_curve(rows: list[Row], probs: np.ndarray, labels: tuple[str, ...], mask: np.ndarray
                     ) -> tuple[list[dict[str, Any]], float]:
    """Held-out accuracy of the top label by its probability (bins of 0.1), and the threshold: the top edge of
    the highest bin with at least 10 rows whose accuracy is under UNCERTAIN_ACCURACY (0 if none is)."""
    top = probs[mask].max(axis=1)
    right = np.array([r.label == labels[int(p.argmax())] for r, p, m in zip(rows, probs, mask, strict=True) if m])
    curve, threshold = [], 0.0
    for lo in np.arange(0.0, 1.0, 0.1):
        inside = (top >= lo) & (top < lo + 0.1 if lo < 0.85 else top <= 1.0)
        n = int(inside.sum())
        if not n:
            continue
        accuracy = float(right[inside].mean())
        curve.append({"confidence": f"{lo:.1f}-{lo + 0.1:.1f}", "n": n, "accuracy": round(accuracy, 3)})
        if n >= 10 and accuracy < UNCERTAIN_ACCURACY:
            threshold = round(float(lo + 0.1), 2)
    return curve, threshold


def _summary(r: dict[str, Any]) -> dict[str, Any]:
    return {"n": r["n"], "macro_f1": r["macro_f1"], "accuracy": r["accuracy"], "per_class_f1": r["per_class_f1"],
            "confusion": r["confusion"]}


def cross_validate(rows: list[Row], dense: np.ndarray, labels: tuple[str, ...], folds: int,
                   c_grid: tuple[float, ...], log: Callable[[str], None]) -> tuple[float, dict[str, Any]]:
    """Pick C by setting-held-out macro-F1 on the corpus rows; figures, confidence curve and threshold for it.
    For client talk, also the figure on AnnoMI's client turns held out by transcript."""
    corpus = np.array([r.source == "corpus" for r in rows])
    if len({r.group for r in rows if r.source == "corpus"}) < 2:
        raise UserError("Cross-validation needs corpus rows from at least two settings.",
                        fix="Add corpus CSVs, or train with --folds 0.")
    scores = {}
    for c_value in c_grid:
        probs = held_out(rows, dense, labels, c_value, corpus, folds, log)
        scores[c_value] = (report(rows, probs, labels, corpus), probs)
        log(f"C={c_value}: held-out-setting macro-F1 {scores[c_value][0]['macro_f1']:.4f}")
    best = max(c_grid, key=lambda c: scores[c][0]["macro_f1"])
    chosen, probs = scores[best]
    curve, threshold = confidence_curve(rows, probs, labels, corpus)
    result: dict[str, Any] = {
        "folds": folds, "unit": "corpus setting (AnnoMI rows always train)",
        "C_grid": {str(c): scores[c][0]["macro_f1"] for c in c_grid}, "C": best,
        "corpus_held_out_setting": _summary(chosen), "confidence_curve": curve, "uncertain_below": threshold,
    }
    annomi = np.array([r.source == "annomi" for r in rows])
    if labels == TALK and annomi.any():
        probs = held_out(rows, dense, labels, best, annomi, folds, log)
        result["annomi_held_out_transcript"] = _summary(report(rows, probs, labels, annomi))
    return best, result


def write_head(out_dir: Path, name: str, labels: tuple[str, ...], names: tuple[str, ...], model,
               meta: dict[str, Any]) -> None:
    vectorizers, coef, intercept = model
    vocab, arrays = {}, {"coef": coef, "intercept": intercept}
    for block, _ in SPARSE:
        terms = [""] * len(vectorizers[block].vocabulary_)
        for term, i in vectorizers[block].vocabulary_.items():
            terms[i] = term
        vocab[block] = terms
        arrays[f"idf_{block}"] = vectorizers[block].idf_.astype(np.float32)
    dense_size = coef.shape[1] - sum(len(v) for v in vocab.values())
    spec = {"labels": list(labels), "dense": list(names), "dense_size": dense_size, "meta": meta, "vocab": vocab}
    (out_dir / f"{name}.json").write_text(json.dumps(spec, ensure_ascii=False))
    np.savez_compressed(out_dir / f"{name}.npz", **arrays)


def _counts(rows: list[Row]) -> dict[str, Any]:
    by_source: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_source[r.source][r.label] += 1
    return {source: dict(sorted(c.items())) for source, c in sorted(by_source.items())}


def train_head(name: str, rows: list[Row], labels: tuple[str, ...], names: tuple[str, ...], encoder: Encoder,
               out_dir: Path, *, folds: int, c_grid: tuple[float, ...], log: Callable[[str], None]) -> dict[str, Any]:
    """Cross-validate (when `folds`), fit on every row, write `<name>.json` / `<name>.npz`; returns its meta."""
    log(f"{name}: {len(rows)} rows; embedding them")
    dense = embed(rows, encoder, names, log)
    meta: dict[str, Any] = {"counts": _counts(rows), "settings": len({r.group for r in rows if r.source == "corpus"})}
    c_value = c_grid[len(c_grid) // 2]
    if folds:
        c_value, meta["cross_validation"] = cross_validate(rows, dense, labels, folds, c_grid, log)
        meta["uncertain_below"] = meta["cross_validation"]["uncertain_below"]
    meta["C"] = c_value
    log(f"{name}: fitting on every row (C={c_value})")
    write_head(out_dir, name, labels, names, fit(rows, dense, labels, c_value), meta)
    return meta


def default_corpus(model_dir: Path) -> Path:
    return model_dir / "corpus"


def train_heads(model_dir: Path, annomi_csv: Path, *, corpus: Path | None = None, out_dir: Path | None = None,
                rule_dev: Path | None = None, folds: int = 5, c_grid: tuple[float, ...] = C_GRID, log: Callable[[str], None] = print
                ) -> dict[str, Any]:
    """Train both heads with the encoder in `model_dir` on the corpus (default `model_dir`/corpus), the rule dev
    set (default `model_dir`/rule_codes_dev.csv) and AnnoMI, and write them (and their figures in meta.json) to
    `out_dir` (default: `model_dir`). Returns what meta.json records about them."""
    from simtrainer.feedback.mi.annomi import read_annomi

    out_dir = out_dir or model_dir
    corpus = corpus or default_corpus(model_dir)
    if not (model_dir / "encoder.onnx").is_file():
        raise UserError("The frozen encoder is missing.", where=str(model_dir / "encoder.onnx"),
                        fix="Run `simtrainer train mi-coder` without --codes-only first.")
    code_rows, talk_rows = read_corpus(corpus)
    dev = rule_dev or model_dir / "rule_codes_dev.csv"
    code_rows += read_rule_dev(dev) if dev.is_file() else []
    utts, _ = read_annomi(annomi_csv)
    annomi_codes, annomi_talk = annomi_rows(utts)
    log(f"codes: {len(code_rows)} project rows + {len(annomi_codes)} AnnoMI; talk: {len(talk_rows)} corpus rows "
        f"+ {len(annomi_talk)} AnnoMI")
    encoder = Encoder(model_dir, cache_size=8)
    if out_dir.resolve() != model_dir.resolve():  # a whole model folder: the AnnoMI model beside the new heads
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copy(model_dir / name, out_dir / name)
    heads = {
        "code_head": train_head("codes", code_rows + annomi_codes, CODES, CODE_DENSE, encoder, out_dir,
                                folds=folds, c_grid=c_grid, log=log),
        "talk_head": train_head("talk", talk_rows + annomi_talk, TALK, TALK_DENSE, encoder, out_dir,
                                folds=folds, c_grid=c_grid, log=log),
    }
    heads["heads_model"] = ("codes.json/npz decides the 11 MITI codes of a counselor line and talk.json/npz the "
                            "talk type of a client line: multinomial logistic regression over the frozen encoder's "
                            f"layers ({', '.join(CODE_DENSE)} / {', '.join(TALK_DENSE)}), word 1-2-grams and "
                            "character 2-5-grams; the AnnoMI model above gives only the open / closed question "
                            "subtype and the AnnoMI tasks of `eval annomi`")
    heads["head_data"] = {"corpus": str(corpus.name), "annomi": annomi_csv.name,
                          "annomi_mapping": {k: {"code": c, "weight": w} for k, (c, w) in ANNOMI_CODES.items()},
                          "annomi_left_out": ["input: advice (Persuade or Persuade with permission?)",
                                              "input: options"]}
    meta = json.loads((out_dir / "meta.json").read_text())
    meta.update(heads)
    meta["version"] = HEAD_VERSION
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return heads
