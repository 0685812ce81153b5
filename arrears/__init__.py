"""arrears: collections orchestration for consumer lenders on Temporal.

This package is the command-line shell only (typer: up, worker, api, replay, history, timeline,
simulate, report, ...): it puts the processes together and nothing imports it. What every
process shares is in core/; the business lives in domain/, workflows/, activities/, store/ and
audit/; the processes are worker/ and api/.
"""
