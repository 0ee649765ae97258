"""The live stream: Server-Sent Events (stream.py), the pollable delta (delta.py), both built from
the event log and encoded once per event per node (encoder.py)."""
