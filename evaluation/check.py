"""Self-check of the evaluation sets: valid labels, counts, no duplicate utterances. Run: python evaluation/check.py"""
import csv, json, collections, pathlib, sys

HERE = pathlib.Path(__file__).parent
MI = {"Q", "SR", "CR", "GI", "PERSUADE", "PWP", "AF", "SEEK", "AUTO", "CONFRONT", "NEUTRAL"}
TALK = {"change", "sustain", "neutral"}
SKILLS = ["describe", "express", "assert", "reinforce", "mindful", "appear_confident", "negotiate"]
FLAGS = {"", "threat", "insult", "ultimatum"}
ITEMS = ["agenda", "feedback", "understanding", "interpersonal_effectiveness", "collaboration", "pacing",
         "guided_discovery", "focus_on_key_cognitions", "strategy_for_change", "application_of_cb_techniques", "homework"]
bad = []


def rows(name, cols):
    with open(HERE / name, newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        if r.fieldnames != cols:
            bad.append(f"{name}: header {r.fieldnames}")
        return list(r)


def dups(name, rs):
    c = collections.Counter(x["utterance"].strip().lower() for x in rs)
    bad.extend(f"{name}: duplicate {u!r}" for u, n in c.items() if n > 1)


mi = rows("mi_codes.csv", ["setting", "register", "previous", "utterance", "code"])
bad += [f"mi_codes.csv: bad code {x}" for x in mi if x["code"] not in MI]
dups("mi_codes.csv", mi)
print("mi_codes.csv", len(mi), dict(collections.Counter(x["code"] for x in mi).most_common()))

ct = rows("client_talk.csv", ["setting", "register", "previous", "utterance", "talk"])
bad += [f"client_talk.csv: bad talk {x}" for x in ct if x["talk"] not in TALK]
dups("client_talk.csv", ct)
print("client_talk.csv", len(ct), dict(collections.Counter(x["talk"] for x in ct).most_common()))

dm = rows("dearman.csv", ["situation", "relationship", "register", "utterance", "skills", "flag"])
for x in dm:
    sk = [s for s in x["skills"].split(";") if s]
    if any(s not in SKILLS for s in sk) or x["flag"] not in FLAGS:
        bad.append(f"dearman.csv: bad row {x}")
dups("dearman.csv", dm)
print("dearman.csv", len(dm), dict(collections.Counter(s for x in dm for s in x["skills"].split(";") if s).most_common()),
      dict(collections.Counter(x["flag"] or "(none)" for x in dm).most_common()))

ss = json.loads((HERE / "ctrs_sessions.json").read_text(encoding="utf-8"))
for s in ss:
    if set(s["scores"]) != set(ITEMS) or not all(isinstance(v, int) and 0 <= v <= 6 for v in s["scores"].values()):
        bad.append(f"ctrs: bad scores in {s['id']}")
    if any(t["speaker"] not in ("therapist", "patient") or not t["text"].strip() for t in s["turns"]):
        bad.append(f"ctrs: bad turn in {s['id']}")
tot = sorted(sum(s["scores"].values()) for s in ss)
print("ctrs_sessions.json", len(ss), "sessions; totals", tot, "competent (>=40):", sum(t >= 40 for t in tot))

print("\n".join(bad) or "OK")
sys.exit(1 if bad else 0)
