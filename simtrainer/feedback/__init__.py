"""Coders that rate trainee turns against a rubric (MI, DEAR MAN, CTRS) and summarise a session."""

from simtrainer.feedback.base import Code, Coder, TurnView

__all__ = ["Code", "Coder", "TurnView"]
