"""Sotto's local engines: speech-to-text (also run inside Home Assistant) and text-to-speech.

Importing this package is cheap on purpose: each engine loads its heavy dependencies
(pocketsphinx, piper, onnxruntime) only when its own module is imported.
"""
