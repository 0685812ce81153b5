"""The simulator's own determinism: what it sends for one account arrives in a fixed order.

Two tasks of one account open at one stop interact in the workflow (the first promise is taken,
the second refused and recorded as a callback), so sending them at once made the same seed give
different runs (issue 17: cured 29 against 30). A fake API that answers the first request later
than the second shows the order the workflow would see."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from simulator.behaviour import Borrower, rng_for
from simulator.engine import Simulation, SimulationState

NOW = datetime(2030, 3, 21, 2, 3, tzinfo=UTC)


class _Answer:
    def __init__(self, body: Any) -> None:
        self.status_code = 200
        self._body = body
        self.text = ""

    def json(self) -> Any:
        return self._body


class _SlowFirstApi:
    """Lists `tasks`; an outcome for a task in `slow` takes longer to arrive than the others."""

    def __init__(self, tasks: list[dict[str, Any]], slow: set[str]) -> None:
        self.tasks = tasks
        self.slow = slow
        self.arrived: list[str] = []

    async def get(self, url: str, **_: Any) -> _Answer:
        assert url == "/v1/tasks"
        return _Answer(self.tasks)

    async def post(self, url: str, **_: Any) -> _Answer:
        task_id = url.split("/")[3]
        if url.endswith("/outcome"):
            await asyncio.sleep(0.05 if task_id in self.slow else 0)
            self.arrived.append(task_id)
        return _Answer({})


def _task(loan: str, seq: int, priority: str) -> dict[str, Any]:
    return {
        "task_id": f"{loan}-run-{seq}",
        "loan_id": loan,
        "kind": "skip_trace",
        "status": "open",
        "priority": priority,
        "not_after": "2030-03-21T03:30:00Z",
        "assignee": "alice",
        "detail": {},
    }


def _simulation(
    api: _SlowFirstApi, loans: list[str], people: dict[str, str] | None = None
) -> Simulation:
    simulation = Simulation.__new__(Simulation)
    simulation.api = api  # type: ignore[assignment]
    simulation._people = people or {}
    simulation.limit = asyncio.Semaphore(8)
    simulation.state = SimulationState(
        accounts=[],
        arms={},
        strategy_of={},
        borrowers={
            loan: Borrower(loan_id=loan, model="forgetful", rng=rng_for(1, loan)) for loan in loans
        },
        start=NOW,
    )
    return simulation


async def test_one_accounts_outcomes_arrive_in_the_order_the_collectors_worked_them() -> None:
    # L-1's follow-up (higher priority) is worked first; its request is the slow one.
    tasks = [_task("L-1", 7, "2366.20"), _task("L-2", 3, "1500.00"), _task("L-1", 9, "1183.10")]
    api = _SlowFirstApi(tasks, slow={"L-1-run-7"})
    simulation = _simulation(api, ["L-1", "L-2"])
    await simulation._collectors_work(date(2030, 3, 21), NOW, {("alice", "other"): 10})
    one = [t for t in api.arrived if t.startswith("L-1-")]
    assert one == ["L-1-run-7", "L-1-run-9"]
    # Accounts are still worked side by side: L-2 did not wait for L-1's slow request.
    assert api.arrived.index("L-2-run-3") < api.arrived.index("L-1-run-7")
    assert [w.task_id for w in simulation.state.work if w.loan_id == "L-1"] == one


async def test_the_loans_of_one_borrower_are_worked_one_after_another() -> None:
    """L-1 and L-2 are one borrower's loans: they share its contact authority, so which
    request reached it first would decide who got the borrower's last allowed contact. L-2's
    outcome waits for L-1's slow one; L-3, another person, does not."""
    tasks = [_task("L-1", 7, "2366.20"), _task("L-2", 3, "1500.00"), _task("L-3", 4, "900.00")]
    api = _SlowFirstApi(tasks, slow={"L-1-run-7"})
    people = {"L-1": "B-1", "L-2": "B-1", "L-3": "L-3"}
    simulation = _simulation(api, ["L-1", "L-2", "L-3"], people)
    await simulation._collectors_work(date(2030, 3, 21), NOW, {("alice", "other"): 10})
    assert api.arrived.index("L-1-run-7") < api.arrived.index("L-2-run-3")
    assert api.arrived.index("L-3-run-4") < api.arrived.index("L-1-run-7")
