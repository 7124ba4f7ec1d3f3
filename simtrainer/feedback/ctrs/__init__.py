"""The CTRS scorer: running indicators during a CBT session, 11 item scores (0-6) at the end."""
