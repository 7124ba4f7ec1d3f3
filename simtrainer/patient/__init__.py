"""The simulated patient (or DEAR MAN counterpart): persona -> transcript prompt -> guarded, streamed reply."""

from simtrainer.patient.guard import GuardVerdict, check_reply, trim_reply
from simtrainer.patient.patient import Patient
from simtrainer.patient.prompt import Line, TranscriptPrompt

__all__ = ["GuardVerdict", "Line", "Patient", "TranscriptPrompt", "check_reply", "trim_reply"]
