"""simtrainer: practise counseling conversations with a local LLM patient and get rubric feedback.

Importing the package switches off the telemetry of the libraries it uses, before any of them can be imported:
onnxruntime (the coders, piper) writes a device id under ~/.cache/Microsoft and looks up a telemetry host unless
ORT_DISABLE_TELEMETRY is set when it loads; the Hugging Face hub client (under faster-whisper) is kept offline.
Every entry point (the CLI, `python -m simtrainer`, the served app, the model probe) imports this first.
"""

import os

__version__ = "0.1.0"

OFFLINE_ENV = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
os.environ.update(OFFLINE_ENV)
