"""The decision modules are pure (DESIGN.md): they import nothing from temporalio, directly or
through a package they live in, and read no clock; the workflow passes its own time in. This is
what lets these unit tests run them with made-up instants, and the sandbox share them."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from datetime import timedelta
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "workflows" / "account"
# The workflow class's two files talk to Temporal: workflow.py waits and receives, effects.py
# carries out the outbox (activities, children, search attributes).
TEMPORAL_SIDE = ("__init__", "workflow", "effects")
DECISIONS = sorted(p for p in PACKAGE.glob("*.py") if p.stem not in TEMPORAL_SIDE)
# The clock's readers (the decision modules receive `now`) and Temporal's workflow API.
CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}
FORBIDDEN_ROOTS = {"temporalio", "random", "uuid", "os", "time", "requests", "httpx", "sqlmodel"}


def _imported_roots(tree: ast.Module) -> set[str]:
    roots = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    return roots | {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }


def _dotted_reads(tree: ast.Module) -> set[tuple[str, str]]:
    return {
        (n.value.id, n.attr)
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    }


def test_the_package_holds_every_concern() -> None:
    expected = {"ladder", "gate", "promises", "outcomes", "holds", "agency_legal", "subflows"}
    assert expected | {"deliveries", "episode"} <= {p.stem for p in DECISIONS}


@pytest.mark.parametrize("source", DECISIONS, ids=lambda p: p.name)
def test_a_decision_module_reads_no_clock_and_imports_no_temporal(source: Path) -> None:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    assert _imported_roots(tree) & FORBIDDEN_ROOTS == set()
    reads = _dotted_reads(tree)
    assert reads & CLOCK_READS == set()
    assert {name for name, _ in reads} & {"workflow", "activity"} == set()


def test_the_sandbox_shares_every_decision_module_and_they_hold_no_mutable_state() -> None:
    """The worker's sandbox (and the Replayer's) passes DECISION_MODULES through (one copy for
    every run): safe only while each holds nothing a run could change — its module-level values
    are immutable (strings, numbers, tuples, frozensets, read-only mappings, types, functions)."""
    from audit.replay import _replayer
    from core.settings import Settings
    from worker.main import workflow_runner
    from workflows.account import DECISION_MODULES

    assert set(DECISION_MODULES) == {f"workflows.account.{p.stem}" for p in DECISIONS}
    assert set(DECISION_MODULES) <= workflow_runner().restrictions.passthrough_modules
    from workflows import WORKFLOWS

    replayer_runner = _replayer(Settings(), WORKFLOWS, None).config()["workflow_runner"]
    assert set(DECISION_MODULES) <= replayer_runner.restrictions.passthrough_modules  # type: ignore[attr-defined]
    immutable = (str, int, float, bool, tuple, frozenset, timedelta, types.MappingProxyType)
    for source in DECISIONS:
        module = importlib.import_module(f"workflows.account.{source.stem}")
        for attr in _module_level_names(ast.parse(source.read_text(encoding="utf-8"))):
            value = getattr(module, attr)
            if isinstance(value, types.UnionType):  # a type alias
                continue
            assert isinstance(value, immutable), f"{module.__name__}.{attr}: {type(value)}"


def _module_level_names(tree: ast.Module) -> set[str]:
    """The names a module assigns at its top level (its own constants)."""
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_importing_every_decision_module_loads_no_temporalio() -> None:
    """Not even indirectly: a fresh interpreter imports them all and no `temporalio` module is
    loaded (the packages `workflows` and `workflows.account` load their workflows lazily)."""
    modules = ", ".join(f"workflows.account.{p.stem}" for p in DECISIONS)
    code = (
        f"import sys, {modules}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'temporalio'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parents[1],
    ).stdout.strip()
    assert loaded == "[]"


@pytest.mark.parametrize("stem", ["workflow", "effects"])
def test_the_workflow_classs_own_modules_shared_by_the_sandbox_read_no_clock_and_hold_constants(
    stem: str,
) -> None:
    """The sandbox shares workflow.py and effects.py too (SANDBOX_SHARED, issue 19: one copy
    instead of one per open workflow), so the sandbox no longer stands between them and the
    clock: they read time only through `workflow.now()`, and what they hold at module level is
    constant (retry policies and search-attribute keys are built once and only read)."""
    from temporalio.common import RetryPolicy, SearchAttributeKey

    from worker.main import workflow_runner
    from workflows.account import SANDBOX_SHARED

    name = f"workflows.account.{stem}"
    assert name in SANDBOX_SHARED
    assert name in workflow_runner().restrictions.passthrough_modules
    source = PACKAGE / f"{stem}.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    assert _dotted_reads(tree) & CLOCK_READS == set()
    assert _imported_roots(tree) & {"random", "uuid", "os", "time"} == set()
    module = importlib.import_module(name)
    constant = (str, int, float, bool, tuple, frozenset, timedelta, RetryPolicy, SearchAttributeKey)
    for attr in _module_level_names(tree):
        assert isinstance(getattr(module, attr), constant), f"{name}.{attr}"
