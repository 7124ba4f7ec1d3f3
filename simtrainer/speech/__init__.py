"""Optional speech: transcription (faster-whisper), the patient's voice (piper), audio I/O (sounddevice).

Each part degrades to text with a notice when its library, model or audio device is missing; none is
imported until speech is used.
"""
