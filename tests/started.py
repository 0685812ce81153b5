"""Loan ids started by the running test, so tests/conftest.py can end their workflows after it:
their worker (and task queue) goes away with the test, and an orphaned timer would stop the
time-skipping server from skipping time for the next one."""

STARTED: list[str] = []
