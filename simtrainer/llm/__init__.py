"""Every LLM call goes through one `ChatBackend` seam, so a local GGUF and a classroom server are configuration."""

from simtrainer.llm.base import ChatBackend, GenParams, ModelCallError, ModelOutputError
from simtrainer.llm.registry import ModelEntry, list_models, open_backend, resolve_model

__all__ = [
    "ChatBackend",
    "GenParams",
    "ModelCallError",
    "ModelEntry",
    "ModelOutputError",
    "list_models",
    "open_backend",
    "resolve_model",
]
