"""domain/contact must stay pure like the rest of domain/ (tests/unit/test_purity.py checks
only the top-level modules)."""

import ast
from pathlib import Path

import pytest

import domain.contact

PACKAGE = Path(domain.contact.__file__).resolve().parent
SOURCES = sorted(PACKAGE.glob("*.py"))

FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "monotonic", "random", "uuid4", "getenv"}
FORBIDDEN_MODULES = {"temporalio", "random", "uuid", "os", "requests", "httpx", "sqlmodel"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_contact_module_reads_no_clock_and_imports_no_temporal(source: Path) -> None:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_MODULES, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_MODULES, node.module
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{source.name}:{node.lineno}"


def test_every_public_name_of_a_module_is_exported_from_the_package() -> None:
    exported = set(domain.contact.__all__)
    for source in SOURCES:
        if source.name == "__init__.py":
            continue
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                assert isinstance(node.value, ast.List)
                names = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
                missing = names - exported
                assert not missing, f"{source.name}: {missing} not exported"


def test_the_brief_api_is_importable_from_the_package() -> None:
    from domain.contact import (  # noqa: F401
        BorrowerContext,
        ContactLedger,
        ContactProfile,
        ContactRecord,
        Decision,
        Hold,
        HoldKind,
        ProposedContact,
        Violation,
        active_holds,
        audit_ledger,
        decide,
        earliest_allowed,
        load_profile,
        profile_for,
        zones_for_contact,
    )
