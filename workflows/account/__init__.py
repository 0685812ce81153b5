"""AccountWorkflow (`workflow.py`, which waits and receives, and `effects.py`, which carries out
what was decided through Temporal) over the episode (`episode.py`: state, pinned policy, outbox)
and one pure decision module per concern: `ladder`, `gate`, `promises`, `outcomes`, `holds`,
`agency_legal`, `filing`, `subflows`, `settlement`, `deliveries` (with `branches` and
`contacts`, their helpers).

The decision modules import nothing from temporalio, directly or through this package: the
workflow class is loaded only when asked for by name, so a unit test (or the simulator) can import
a decision module without Temporal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.account.workflow import AccountWorkflow

__all__ = ["AccountWorkflow", "DECISION_MODULES", "SANDBOX_SHARED"]

DECISION_MODULES = tuple(
    f"workflows.account.{name}"
    for name in (
        "agency_legal",
        "borrower",
        "branches",
        "cases",
        "compaction",
        "compliance",
        "consolidation",
        "contacts",
        "deliveries",
        "episode",
        "filing",
        "gate",
        "holds",
        "ladder",
        "outcomes",
        "promises",
        "reasons",
        "schedule",
        "settlement",
        "subflows",
    )
)
"""Every module of the package but the workflow class's two (workflow.py, effects.py): pure,
deterministic, holding no mutable module state (constants only), so the workflow sandbox shares
them with the worker instead of compiling them again for every workflow run: the one list, which
the worker and the Replayer hand to core.temporal.sandbox_runner."""

SANDBOX_SHARED = (*DECISION_MODULES, "workflows.account.workflow", "workflows.account.effects")
"""What the sandbox shares with the worker: the decision modules and the workflow class's own
two modules (issue 19: re-importing and re-decorating them for every run held about 60 KiB per
open workflow, bench/memory.py --breakdown). Their module-level values are constants too, and
they read no clock (tests/unit/episode/test_purity.py), so one copy serves every run; each run
still has its own AccountWorkflow instance. Only the `workflows` and `workflows.account`
packages' own `__init__` modules (a few names each) are still imported per run."""


def __getattr__(name: str) -> Any:
    """`from workflows.account import AccountWorkflow`, loaded on first use."""
    if name == "AccountWorkflow":
        from workflows.account.workflow import AccountWorkflow

        return AccountWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
