"""domain/ must stay pure, its subpackages included (domain/contact): the same code runs in real
time, in tests and in the simulator."""

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
SOURCES = sorted(DOMAIN.rglob("*.py"))
PACKAGES = sorted({source.parent for source in SOURCES})

FORBIDDEN_CALLS = {"now", "today", "utcnow", "time", "monotonic", "random", "uuid4", "getenv"}
FORBIDDEN_MODULES = {"temporalio", "random", "uuid", "os", "requests", "httpx", "sqlmodel"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_reads_no_clock_and_imports_no_temporal(source: Path) -> None:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_MODULES, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_MODULES, node.module
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{source.name}:{node.lineno}"


def _exported(tree: ast.Module) -> set[str]:
    """The names a module's `__all__` lists (empty when it has none)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            assert isinstance(node.value, ast.List)
            return {str(e.value) for e in node.value.elts if isinstance(e, ast.Constant)}
    return set()


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_public_name_is_exported_from_its_package(package: Path) -> None:
    exported = _exported(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    for source in sorted(package.glob("*.py")):
        if source.name == "__init__.py":
            continue
        names = _exported(ast.parse(source.read_text(encoding="utf-8")))
        assert names <= exported, f"{source.name}: {names - exported} not exported"
