"""Workflow tests share tests/conftest.py's clean-up: every episode a test started through the
API is terminated after it, so no orphaned timer stops the time-skipping server."""
