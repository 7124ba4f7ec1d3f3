"""Training end to end on a small slice of AnnoMI: export the encoder, fine-tune, cross-validate, fit, save,
load, predict.

AnnoMI is not shipped (the data is CC BY-NC); these tests read it where `simtrainer train mi-coder` looks by
default, or from the folder named by ANNOMI_DIR, and are skipped, saying where they looked, when it is absent.
"""

import csv
import json
import os
from pathlib import Path

import pytest

from simtrainer.cli.coding import DEFAULT_ANNOMI
from simtrainer.feedback.mi.annomi import read_annomi
from simtrainer.feedback.mi.model import MICodeModel
from simtrainer.feedback.mi.train import PRIOR_GRID, train_mi_coder, transcript_folds

ANNOMI = Path(os.environ.get("ANNOMI_DIR") or DEFAULT_ANNOMI) / "AnnoMI-full-train.csv"
pytestmark = pytest.mark.skipif(
    not ANNOMI.is_file(),
    reason=f"the AnnoMI data set is not at {ANNOMI}: put AnnoMI-full-train.csv there or set ANNOMI_DIR",
)


@pytest.fixture(scope="module")
def slice_csv(tmp_path_factory) -> Path:
    with ANNOMI.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if r["transcript_id"] in {"0", "1", "2", "3"}]
    path = tmp_path_factory.mktemp("annomi") / "slice-full.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_folds_never_split_a_transcript(slice_csv):
    utts, _ = read_annomi(ANNOMI)
    folds = transcript_folds(utts, 5)
    assert sum(len(f) for f in folds) == len({u.transcript_id for u in utts})
    assert all(not (a & b) for i, a in enumerate(folds) for b in folds[i + 1 :])
    sizes = [sum(1 for u in utts if u.transcript_id in f) for f in folds]
    assert max(sizes) - min(sizes) < 0.1 * len(utts)


def test_train_small_slice_end_to_end(slice_csv, tmp_path):
    out = tmp_path / "mi-coder"
    meta = train_mi_coder(slice_csv, out, folds=2, tune_epochs=1, log=lambda _m: None)
    assert {p.name for p in out.iterdir()} >= {"encoder.onnx", "tuned.onnx", "tokenizer.json", "meta.json",
                                               "vocab.json", "weights.npz"}
    assert out.joinpath("encoder.onnx").stat().st_size < 40e6  # int8 weights
    assert out.joinpath("tuned.onnx").stat().st_size < 40e6
    cv = meta["cross_validation"]
    assert cv["folds"] == 2 and 0 <= cv["therapist_behaviour"]["macro_f1"] <= 1
    assert set(cv["parts"]) == {"frozen_encoder_lr", "fine_tuned", "mixed_without_session_prior"}
    prior = meta["session_prior"]
    assert set(prior) == {"therapist_behaviour"}
    assert all(abs(sum(p["base"]) - 1) < 1e-3 and (p["smoothing"], p["strength"]) in PRIOR_GRID
               for p in prior.values())
    assert set(meta["tuned_weight"]) == set(meta["tasks"]) and meta["fine_tuning"]["epochs"] == 1
    assert all(w in (0.0, 0.25, 0.5, 0.75, 1.0) for w in meta["tuned_weight"].values())
    assert "tuned_weight" not in cv
    assert json.loads((out / "meta.json").read_text())["tasks"]["question"] == ["open", "closed"]
    model = MICodeModel(out)
    probs = model.probabilities("What brings you here?", "therapist")
    assert abs(sum(probs["therapist_behaviour"].values()) - 1) < 1e-4
    utts, _ = read_annomi(slice_csv)
    predictions = model.predict_many(utts[:10])
    assert len(predictions) == 10 and predictions[0]["therapist_behaviour"] in (
        "question", "reflection", "therapist_input", "other")


def test_tuned_onnx_export_matches_torch(slice_csv, tmp_path):
    """The int8 ONNX the app runs gives (nearly) the probabilities the fine-tuned torch model gives."""
    from simtrainer.feedback.mi import tune
    from simtrainer.feedback.mi.model import TunedModel, _softmax
    from simtrainer.feedback.mi.train import base_model_dir

    utts, _ = read_annomi(slice_csv)
    model = tune.fine_tune(utts[:64], base_model_dir(), epochs=1, log=lambda _m: None)
    tune.export_tuned(model, base_model_dir(), tmp_path / "tuned.onnx")
    (tmp_path / "tokenizer.json").write_bytes((base_model_dir() / "tokenizer.json").read_bytes())
    onnx = TunedModel(tmp_path)
    sample = utts[64:80]
    torch_probs = tune.tuned_probabilities(model, sample, base_model_dir())
    for i, u in enumerate(sample):
        logits = onnx.logits(u.text, u.prev, u.earlier)
        for task in ("therapist_behaviour", "client_talk_type"):
            assert abs(_softmax(logits[task]) - torch_probs[task][i]).max() < 0.05
