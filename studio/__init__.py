"""Synesthesia Studio core: no Qt here (tests/core/test_no_qt.py keeps it so)."""

__version__ = "0.1.0"
