"""The Sotto demo: a real Home Assistant, a Sotto engine and two satellites on 127.0.0.1.

`./scripts/demo` runs a short spoken scenario and prints what happened; `--serve` keeps
Home Assistant running for a look at the devices; `--mic` uses the real microphone.
"""
