"""simtrainer: practise counseling conversations with a local LLM patient and get rubric feedback."""

__version__ = "0.1.0"
