"""A code below the coder's measured confidence is shown as uncertain, with its runner-up, wherever it is read."""

from simtrainer.config import PatientSettings
from simtrainer.feedback.base import Code
from simtrainer.feedback.labels import shown_label
from simtrainer.llm.fake import FakeBackend
from simtrainer.review.export import export
from simtrainer.scenarios import get_card
from simtrainer.session import Session
from simtrainer.storage import Store


class UnsureCoder:
    rubric = "mi"
    scorer = "unsure test coder"

    def code(self, text, context=None, earlier=None):
        return [Code("mi", "CR", "CR", 0.31, "", self.scorer, "adds meaning", uncertain=True, runner_up="SR")]

    def summarize(self, turns):
        from simtrainer.feedback.mi.summary import miti_summary
        from simtrainer.rubrics import load_rubric

        return miti_summary(turns, load_rubric("mi"))


def test_labels_mark_uncertain_codes_and_name_the_runner_up():
    assert shown_label("mi", "CR", uncertain=True, runner_up="SR") == "CR? (or SR)"
    assert shown_label("mi", "Q", "open") == "Q open"
    assert shown_label("mi", "PERSUADE", uncertain=True) == "Persuade?"


def test_exports_show_an_uncertain_code_as_such(tmp_path):
    store = Store(tmp_path / "s.db")
    session = Session(store, get_card("mi-alcohol-nurse"), FakeBackend(["I guess."]), coders=[UnsureCoder()],
                      patient_settings=PatientSettings())
    list(session.submit("So the wine is how you come down after a shift."))
    session.end()
    assert "codes: CR? (or SR)" in export(store, session.id, "md")
    assert "CR? (or SR)" in export(store, session.id, "csv")
    row = store.turns(session.id)[1]["codes"][0]
    assert row["uncertain"] is True and row["runner_up"] == "SR"  # kept in the database and the JSON export
