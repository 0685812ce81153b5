"""The production image holds what its commands need and nothing of the development tools.

Docker images are not pulled or built here: the image's package list is read from the
Dockerfile's COPY lines, those folders are copied into a temporary directory, and the commands
run from there (PYTHONPATH on that copy, cwd elsewhere, the checkout's editable install switched
off), so a package the Dockerfile forgets (as `sandbox/` once was) fails here. Every third-party
module they import must come from the runtime lock the image installs.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

from tests.test_compose import ROOT, dockerfile_instructions

FULL_LOCK = ROOT / "requirements.lock"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"

# Runs inside the copy: no editable finder, no checkout on sys.path; then the given command.
BOOTSTRAP = """
import importlib, importlib.metadata, json, pkgutil, sys
image, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
def editable(hook):
    return "__editable__" in getattr(hook, "__module__", "")
sys.meta_path[:] = [f for f in sys.meta_path if not editable(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not editable(h)]
sys.path_importer_cache.clear()
sys.path[:] = [image] + [p for p in sys.path if p and ("/lib/python" in p or p.endswith(".zip"))]
if mode == "cli":
    import arrears.cli
    assert arrears.cli.__file__.startswith(image), arrears.cli.__file__
    sys.argv = ["arrears", *args]
    try:
        arrears.cli.app()
    except SystemExit as done:
        if done.code not in (0, None):
            raise
else:
    import worker.main  # what `arrears worker` runs
    for package in args:
        module = importlib.import_module(package)
        assert module.__file__.startswith(image), module.__file__
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if ".migrations" not in info.name:  # Alembic's env.py runs only under Alembic
                importlib.import_module(info.name)
    ours = set(args)
    third_party = {name.split(".")[0] for name in sys.modules} - ours - set(sys.stdlib_module_names)
    distributions = importlib.metadata.packages_distributions()
    used = sorted({d for top in third_party for d in distributions.get(top, [])})
    print("DISTRIBUTIONS=" + json.dumps(used))
"""


def image_packages() -> list[str]:
    """Top-level Python packages the runtime stage COPYs from the build context."""
    packages = []
    for keyword, args in dockerfile_instructions():
        if keyword != "COPY" or "--from=" in args:
            continue
        sources = [part for part in args.split() if not part.startswith("--")][:-1]
        packages += [s.rstrip("/") for s in sources if (ROOT / s / "__init__.py").is_file()]
    return packages


def copied_sources() -> list[str]:
    copied = []
    for keyword, args in dockerfile_instructions():
        if keyword == "COPY" and "--from=" not in args:
            copied += [part for part in args.split() if not part.startswith("--")][:-1]
    return copied


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Dockerfile's COPY sources, copied as the image's /app holds them."""
    app = tmp_path_factory.mktemp("image") / "app"
    app.mkdir()
    for source in copied_sources():
        for path in ROOT.glob(source):
            target = app / path.relative_to(ROOT)
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(path, target)
    return app


def _run(image: Path, mode: str, *args: str) -> subprocess.CompletedProcess[str]:
    elsewhere = image.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(image), mode, *args],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "ARREARS_DATA_DIR": str(elsewhere / "data")},
    )


@cache
def _pins(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", lock.read_text(), flags=re.MULTILINE)
    return {_normal(name): version for name, version in pins}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_copies_every_package_the_commands_need() -> None:
    assert {"arrears", "core", "api", "worker", "sandbox", "workflows"} <= set(image_packages())


@pytest.mark.parametrize("command", [["--help"], ["sandbox", "--help"], ["worker", "--help"]])
def test_the_cli_runs_from_the_image_packages_alone(image_dir: Path, command: list[str]) -> None:
    done = _run(image_dir, "cli", *command)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Usage" in done.stdout


def test_every_module_of_the_image_imports_from_it_and_needs_only_the_runtime_lock(
    image_dir: Path,
) -> None:
    done = _run(image_dir, "modules", *image_packages())
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = [x for x in done.stdout.splitlines() if x.startswith("DISTRIBUTIONS=")]
    used = {_normal(d) for d in json.loads(line.removeprefix("DISTRIBUTIONS="))}
    missing = sorted(used - set(_pins(RUNTIME_LOCK)) - {"arrears"})
    assert not missing, f"imported by the image's code but not in the runtime lock: {missing}"


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a `try` that handles a missing module (an optional part, said to the user)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                caught = ast.unparse(handler.type) if handler.type else ""
                if "ModuleNotFoundError" in caught or "ImportError" in caught:
                    return True
    return False


def test_every_first_party_import_even_inside_a_command_resolves_in_the_image(
    image_dir: Path,
) -> None:
    """Commands import lazily (`arrears sandbox` imports sandbox.app only when it runs), so the
    source is read: every import of one of our packages must name a package the image holds."""
    ours = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    shipped = set(image_packages())
    missing = []
    for package in shipped:
        for path in (image_dir / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            parents = {
                child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in ours and top not in shipped and not _guarded(node, parents):
                        missing.append(f"{path.relative_to(image_dir)}:{node.lineno} {name}")
    assert not missing, f"imports of packages the image lacks: {missing}"


def test_the_simulator_says_what_it_needs_when_the_image_lacks_it(image_dir: Path) -> None:
    done = _run(image_dir, "cli", "simulate", "--accounts", "1", "--days", "1")
    assert done.returncode != 0
    assert "arrears[sim]" in done.stdout + done.stderr


def test_the_runtime_lock_holds_no_development_or_simulator_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = set(_pins(RUNTIME_LOCK))
    for extra in ("dev", "sim"):
        for requirement in project["optional-dependencies"][extra]:
            name = _normal(re.split(r"[\[<>=!~; ]", requirement)[0])
            assert name not in runtime, f"{name} ({extra}) is in the image's lock"
    for requirement in project["dependencies"]:
        name = _normal(re.split(r"[\[<>=!~; ]", requirement)[0])
        assert name in runtime, f"runtime dependency {name} is not in the runtime lock"


def test_the_two_lock_files_agree_on_every_version() -> None:
    full, runtime = _pins(FULL_LOCK), _pins(RUNTIME_LOCK)
    assert set(runtime) <= set(full)
    assert {n: v for n, v in runtime.items() if full[n] != v} == {}


def test_the_image_is_compiled_to_bytecode_at_build_time() -> None:
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    assert any("compileall" in run and "/app" in run for run in runs)
    assert any("compileall" in run and "/opt/venv" in run for run in runs)
    env = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE" not in env
