"""Static checks of the production deployment files: docker-compose.yml, Dockerfile, .dockerignore.

Docker is not needed: the files are parsed and checked against the repository and against the
environment variables that ``core.settings`` understands.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from core.settings import environment_names

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

VALID_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
ONE_SHOT_RESTART_POLICIES = {"no", "on-failure"}


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict) and found, "docker-compose.yml defines no services"
    return found


def build_context(service: dict[str, Any]) -> tuple[Path, str] | None:
    """The build context directory and Dockerfile name of a service, or None if it has no build."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return (ROOT / build).resolve(), "Dockerfile"
    return (ROOT / build.get("context", ".")).resolve(), build.get("dockerfile", "Dockerfile")


def app_services() -> dict[str, dict[str, Any]]:
    """Services built from this repository (context `.`): the arrears processes."""
    return {
        name: service
        for name, service in services().items()
        if (context := build_context(service)) is not None and context[0] == ROOT
    }


def long_running_services() -> dict[str, dict[str, Any]]:
    """Services expected to stay up (one-shot jobs such as `migrate` say restart: "no")."""
    return {
        name: service
        for name, service in services().items()
        if str(service.get("restart", "no")) not in ONE_SHOT_RESTART_POLICIES
    }


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """depends_on in either form, as {service: condition}."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {
        name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()
    }


def environment_keys(service: dict[str, Any]) -> set[str]:
    """Variable names of `environment` in either form (mapping, or list of KEY[=value])."""
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {entry.split("=", 1)[0] for entry in environment}


def environment_value(service: dict[str, Any], key: str) -> str | None:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        value = environment.get(key)
        return None if value is None else str(value)
    for entry in environment:
        name, _, value = entry.partition("=")
        if name == key:
            return value
    return None


def published_ports(service: dict[str, Any]) -> set[int]:
    """Host ports a service publishes (short `[ip:]host:container[/proto]` or long form)."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if "published" in entry:
                ports.add(int(entry["published"]))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            ports.add(int(parts[-2]))
    return ports


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, arguments = stripped.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


# --- compose structure --------------------------------------------------------------------------


def test_every_service_has_an_image_or_a_build() -> None:
    missing = [
        name
        for name, service in services().items()
        if not ("image" in service or "build" in service)
    ]
    assert not missing, f"services without image or build: {missing}"


def test_every_build_context_has_a_dockerfile() -> None:
    for name, service in services().items():
        context = build_context(service)
        if context is None:
            continue
        directory, dockerfile = context
        assert directory.is_dir(), f"{name}: build context {directory} does not exist"
        assert (directory / dockerfile).is_file(), f"{name}: no {dockerfile} in {directory}"


def test_the_arrears_processes_are_built_from_this_repository() -> None:
    assert {"migrate", "worker", "api"} <= set(app_services())


def test_every_dependency_names_a_service_that_exists() -> None:
    names = set(services())
    for name, service in services().items():
        unknown = set(dependencies(service)) - names
        assert not unknown, f"{name} depends on undefined services {sorted(unknown)}"


def test_every_dependency_condition_is_a_valid_compose_condition() -> None:
    for name, service in services().items():
        for target, condition in dependencies(service).items():
            assert condition in VALID_CONDITIONS, f"{name} -> {target}: bad condition {condition!r}"


def test_waiting_for_healthy_requires_the_dependency_to_have_a_healthcheck() -> None:
    for name, service in services().items():
        for target, condition in dependencies(service).items():
            if condition == "service_healthy":
                healthcheck = services().get(target, {}).get("healthcheck") or {}
                assert healthcheck.get("test") and not healthcheck.get("disable"), (
                    f"{name} waits for {target} to be healthy but {target} has no healthcheck"
                )


def test_waiting_for_completion_targets_a_one_shot_service() -> None:
    for name, service in services().items():
        for target, condition in dependencies(service).items():
            if condition == "service_completed_successfully":
                restart = str(services().get(target, {}).get("restart", "no"))
                assert restart == "no", f"{name} waits for {target} to finish but it restarts"


def test_worker_and_api_start_after_temporal_is_healthy_and_migrations_succeeded() -> None:
    for name in ("worker", "api"):
        wanted = dependencies(services()[name])
        assert wanted.get("temporal") == "service_healthy", name
        assert wanted.get("migrate") == "service_completed_successfully", name


def test_migrate_runs_arrears_migrate_once() -> None:
    migrate = services()["migrate"]
    command = migrate["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    assert command[-2:] == ["arrears", "migrate"] or command == ["arrears", "migrate"]
    assert str(migrate.get("restart")) == "no"


def test_every_named_volume_is_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if source.startswith((".", "/", "~")):
                continue
            assert source in declared, f"{name}: volume {source!r} is not declared"


def test_every_bind_mount_source_exists_in_the_repository() -> None:
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"


def test_temporal_dynamic_config_file_exists_in_the_mounted_directory() -> None:
    temporal = services()["temporal"]
    config_path = environment_value(temporal, "DYNAMIC_CONFIG_FILE_PATH")
    assert config_path, "temporal has no DYNAMIC_CONFIG_FILE_PATH"
    mounts = [str(v).split(":") for v in temporal.get("volumes") or [] if str(v).startswith(".")]
    container_dir = "/etc/temporal/" + str(Path(config_path).parent)
    sources = [ROOT / source for source, target, *_ in mounts if target == container_dir]
    assert sources, f"nothing is mounted at {container_dir}"
    assert (sources[0] / Path(config_path).name).is_file()
    assert isinstance(yaml.safe_load((sources[0] / Path(config_path).name).read_text()), dict)


# --- environment ----------------------------------------------------------------------------------


def test_every_variable_passed_to_the_app_is_one_the_settings_understand() -> None:
    known = environment_names()
    assert known, "core.settings.environment_names() is empty"
    for name, service in app_services().items():
        keys = environment_keys(service)
        assert keys, f"{name} gets no environment"
        unknown = keys - known
        assert not unknown, f"{name}: variables not in core.settings: {sorted(unknown)}"


def test_app_services_share_the_same_environment() -> None:
    environments = {name: environment_keys(s) for name, s in app_services().items()}
    assert len({frozenset(keys) for keys in environments.values()}) == 1, environments


def test_api_keys_are_required_not_defaulted() -> None:
    for name, service in app_services().items():
        value = environment_value(service, "ARREARS_API_KEYS") or ""
        assert re.fullmatch(r"\$\{ARREARS_API_KEYS:\?[^}]*\}", value), f"{name}: {value!r}"


def test_app_services_point_at_the_compose_temporal_and_store() -> None:
    for name, service in app_services().items():
        assert "temporal:7233" in (environment_value(service, "TEMPORAL_ADDRESS") or ""), name
        database_url = environment_value(service, "DATABASE_URL") or ""
        assert "postgresql+psycopg://" in database_url and "@store-db:5432/" in database_url, name
        assert environment_value(service, "ARREARS_DATA_DIR") == "/app/data", name


# --- scaling and health ------------------------------------------------------------


def test_worker_has_at_least_two_replicas() -> None:
    replicas = (services()["worker"].get("deploy") or {}).get("replicas", 1)
    assert int(replicas) >= 2


def test_worker_publishes_no_host_ports_so_it_can_be_scaled() -> None:
    worker = services()["worker"]
    assert not worker.get("ports") and not worker.get("container_name")


def test_every_long_running_service_has_a_healthcheck() -> None:
    long_running = long_running_services()
    assert {"postgresql", "temporal", "temporal-ui", "store-db", "worker", "api"} <= set(
        long_running
    )
    for name, service in long_running.items():
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"


def test_api_and_temporal_ui_ports_are_published() -> None:
    assert 8000 in published_ports(services()["api"])
    assert 8233 in published_ports(services()["temporal-ui"])


def test_temporal_runs_on_the_server_image_with_admin_tools_setting_up_schema_and_namespace() -> (
    None
):
    """temporalio/auto-setup is deprecated: the server image serves, admin-tools prepares."""
    temporal = services()["temporal"]
    assert re.fullmatch(r"temporalio/server:1\.\d+\.\d+", temporal["image"]), temporal["image"]
    assert not any("auto-setup" in str(s.get("image", "")) for s in services().values())
    assert environment_value(temporal, "DB") == "postgres12"
    assert environment_value(temporal, "POSTGRES_SEEDS") in services()
    schema, namespace = services()["temporal-schema"], services()["temporal-namespace"]
    for job in (schema, namespace):
        assert re.fullmatch(r"temporalio/admin-tools:1\.\d+\.\d+", job["image"]), job["image"]
        assert str(job.get("restart")) == "no"
    assert schema["image"].split(":")[1] == temporal["image"].split(":")[1], "schema != server"
    setup = " ".join(schema["command"])
    for database in ("temporal", "temporal_visibility"):
        assert f"--db {database} update-schema" in setup, database
    assert dependencies(temporal)["temporal-schema"] == "service_completed_successfully"
    assert dependencies(namespace)["temporal"] == "service_healthy"
    assert "namespace create" in " ".join(namespace["command"])
    for name in ("worker", "api"):
        assert dependencies(services()[name])["temporal-namespace"] == (
            "service_completed_successfully"
        )


def test_the_web_ui_is_bound_to_loopback_and_read_only_by_default() -> None:
    ui = services()["temporal-ui"]
    [port] = ui["ports"]
    bind = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(port)).split(":")[0]
    assert bind == "127.0.0.1", port
    disabled = re.sub(
        r"\$\{[A-Z_]+:-([^}]*)\}",
        r"\1",
        environment_value(ui, "TEMPORAL_DISABLE_WRITE_ACTIONS") or "",
    )
    assert disabled == "true"


def test_the_probes_are_health_live_and_health_ready() -> None:
    api_check = " ".join(services()["api"]["healthcheck"]["test"])
    worker_check = " ".join(services()["worker"]["healthcheck"]["test"])
    assert "/health/ready" in api_check and ":8000/" in api_check
    port = environment_value(services()["worker"], "ARREARS_WORKER_HEALTH_PORT")
    assert port and f":{port}/health/ready" in worker_check
    checks = [args for keyword, args in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert "/health/live" in checks[-1]


def test_a_stopped_worker_gets_longer_than_its_shutdown_grace_to_drain() -> None:
    worker = services()["worker"]
    grace = re.sub(
        r"\$\{[A-Z_]+:-([^}]*)\}",
        r"\1",
        environment_value(worker, "ARREARS_WORKER_SHUTDOWN_GRACE") or "30",
    )
    assert int(str(worker["stop_grace_period"]).rstrip("s")) > int(grace)


def test_no_image_uses_the_latest_tag_from_a_registry() -> None:
    for name, service in services().items():
        if "build" in service:
            continue
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image}"


# --- Dockerfile ------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "the Dockerfile never sets USER"
    final_user = users[-1].split(":")[0]
    assert final_user not in {"root", "0"}, f"the image runs as {final_user}"


def test_dockerfile_installs_locked_dependencies_with_hashes() -> None:
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    assert any(
        "pip install" in run and "--require-hashes" in run and "requirements-runtime.lock" in run
        for run in runs
    ), "no `pip install --require-hashes -r requirements-runtime.lock`"
    project_installs = [run for run in runs if "pip install" in run and "requirements" not in run]
    assert project_installs and all("--no-deps" in run for run in project_installs)


def test_dockerfile_has_a_python_healthcheck_on_health() -> None:
    checks = [args for keyword, args in dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert checks and "python" in checks[-1] and "/health" in checks[-1]


def test_dockerfile_default_command_is_the_api() -> None:
    commands = [args for keyword, args in dockerfile_instructions() if keyword == "CMD"]
    assert commands
    assert yaml.safe_load(commands[-1]) == ["arrears", "api", "--host", "0.0.0.0", "--port", "8000"]


def test_every_path_the_dockerfile_copies_exists_and_is_not_ignored() -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied: list[str] = []
    for keyword, args in dockerfile_instructions():
        if keyword != "COPY" or "--from=" in args:
            continue
        sources = [part for part in args.split() if not part.startswith("--")][:-1]
        copied.extend(sources)
    for folder in (
        "arrears",
        "core",
        "domain",
        "workflows",
        "activities",
        "store",
        "worker",
        "api",
        "sandbox",
    ):
        assert folder in copied, f"the Dockerfile does not copy {folder}/"
    for source in copied:
        if "*" in source:
            continue
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), (
            f"COPY {source}: excluded by .dockerignore"
        )


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", "data", ".git", "tests"} <= ignored
    assert any("__pycache__" in line for line in ignored)


# --- PII keys and the auditors' codec (issue 8) ------------------------------------------------


def test_the_payload_key_is_required_never_the_public_dev_key() -> None:
    """Without ARREARS_PAYLOAD_KEY every process would encrypt with the dev key in the source."""
    for name, service in app_services().items():
        value = environment_value(service, "ARREARS_PAYLOAD_KEY") or ""
        assert re.fullmatch(r"\$\{ARREARS_PAYLOAD_KEY:\?[^}]*\}", value), f"{name}: {value!r}"


def test_the_web_ui_decodes_through_the_api_codec_with_the_auditors_cookie() -> None:
    ui = services()["temporal-ui"]
    endpoint = environment_value(ui, "TEMPORAL_CODEC_ENDPOINT") or ""
    assert re.fullmatch(r"\$\{ARREARS_PUBLIC_URL:-http://localhost:8000\}/codec", endpoint), (
        endpoint
    )
    assert environment_value(ui, "TEMPORAL_CODEC_INCLUDE_CREDENTIALS") == "true"
    # The UI's own origin must be one the API's codec CORS allow-list admits.
    ui_origin = re.sub(
        r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", environment_value(ui, "TEMPORAL_CORS_ORIGINS") or ""
    )
    for name, service in app_services().items():
        origins = re.sub(
            r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", environment_value(service, "ARREARS_UI_ORIGINS") or ""
        )
        assert ui_origin in origins.split(","), (name, origins)


def test_the_sandbox_sends_status_callbacks_to_the_api_service_not_the_public_url() -> None:
    sandbox = services()["sandbox"]
    assert environment_value(sandbox, "ARREARS_PUBLIC_URL") == "http://api:8000"
    assert 8000 in published_ports(services()["api"])
    for name in ("worker", "api"):
        public = environment_value(services()[name], "ARREARS_PUBLIC_URL") or ""
        assert "api:8000" not in public, name


def test_the_event_delivery_runs_once_per_store_healthy_while_it_reaches_the_store() -> None:
    events = services()["events"]
    assert events["command"] == ["arrears", "deliver-events"]
    assert events["profiles"] == ["events"], "opt-in: it needs the loan system's webhook"
    assert "replicas" not in (events.get("deploy") or {}), "one delivery process per store"
    assert events["healthcheck"]["test"] == ["CMD", "arrears", "deliver-events", "--check"]
    assert set(dependencies(events)) == {"store-db", "migrate"}
