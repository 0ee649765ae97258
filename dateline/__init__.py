"""Dateline: an open-source live blog platform."""

__version__ = "0.1.0"
