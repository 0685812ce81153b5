"""The house's dependency rule (DESIGN.md, "The house"), read from the code's own imports.

Every `import` and `from ... import` of every module is counted, the ones inside functions too (a
lazy import is still a dependency), so a shortcut across the house fails here instead of in a
review: nothing imports `arrears`, `api` or `worker`; `core` imports nothing of ours; `audit` and
`activities` stay below the processes; no two packages import each other.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The top-level packages and program folders of the house (tests/ is not one of them).
PACKAGES = frozenset(
    {
        "activities",
        "api",
        "arrears",
        "audit",
        "bench",
        "core",
        "domain",
        "sandbox",
        "scripts",
        "simulator",
        "store",
        "worker",
        "workflows",
    }
)
PROCESSES = frozenset({"arrears", "api", "worker"})

# What a package may import besides itself (DESIGN.md).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "domain": frozenset(),
    "workflows": frozenset({"domain"}),
    "store": frozenset({"domain"}),
    "audit": frozenset({"core", "domain", "store", "workflows"}),
}


@cache
def imports() -> dict[str, set[tuple[str, str]]]:
    """{file (relative path): {(imported top-level package, full module name)}} of our modules."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for package in sorted(PACKAGES):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's revision files import only alembic and sqlalchemy
            relative = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in PACKAGES:
                        found[relative].add((top, name))
    return found


def package_of(relative: str) -> str:
    return relative.split("/")[0]


def test_nothing_imports_the_processes() -> None:
    wrong = sorted(
        f"{file} imports {module}"
        for file, targets in imports().items()
        for top, module in targets
        if top in PROCESSES and top != package_of(file) and package_of(file) != "arrears"
    )
    assert not wrong, "only arrears/ puts the processes together:\n" + "\n".join(wrong)


def test_each_package_imports_only_what_the_design_allows() -> None:
    wrong = sorted(
        f"{file} imports {module}"
        for file, targets in imports().items()
        for top, module in targets
        if package_of(file) in ALLOWED
        and top != package_of(file)
        and top not in ALLOWED[package_of(file)]
    )
    assert not wrong, "\n".join(wrong)


def test_no_two_packages_import_each_other() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for file, targets in imports().items():
        for top, _module in targets:
            if top != package_of(file):
                edges[package_of(file)].add(top)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for following in edges.get(start, set()) - seen:
            if following == goal or reaches(following, goal, seen | {following}):
                return True
        return False

    circles = sorted(package for package in list(edges) if reaches(package, package, set()))
    assert not circles, f"packages in an import circle: {circles}"
