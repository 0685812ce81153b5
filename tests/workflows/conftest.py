"""Fixtures of the workflow scenario tests beyond the suite's (tests/conftest.py)."""

from tests.workflows.moments import moments, recording_worker

__all__ = ["moments", "recording_worker"]
