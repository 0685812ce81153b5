"""A stand-in for the AccountWorkflow when a subflow (restructure, write-off) is tested alone: it
keeps every `subflow_event` its child sends, and answers them to the test by query."""

from __future__ import annotations

from temporalio import workflow

from workflows.contracts import SubflowEvent


@workflow.defn(name="SubflowParentRecorder", sandboxed=False)
class ParentRecorder:
    """Records what the child tells it, does nothing else."""

    def __init__(self) -> None:
        self._events: list[SubflowEvent] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def subflow_event(self, event: SubflowEvent) -> None:
        self._events.append(event)

    @workflow.query
    def events(self) -> list[SubflowEvent]:
        return self._events
