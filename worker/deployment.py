"""Worker Versioning: which deployment and build a worker serves, and making a build current.

An episode runs for months; pinned to the build that started it, it never meets code it was not
started with until a stage boundary, where it continues-as-new onto the deployment's current
build (docs/versioning.md). The time-skipping test server has no Worker Versioning, so tests and
the simulator run unversioned workers (ARREARS_WORKER_VERSIONING=false or no config passed).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from importlib import metadata
from pathlib import Path

from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import WorkerDeploymentConfig

from core.settings import Settings

log = logging.getLogger(__name__)

_CHECKOUT = Path(__file__).resolve().parent.parent


def build_id(settings: Settings) -> str:
    """ARREARS_BUILD_ID, else the checkout's git commit, else the installed package version."""
    if settings.build_id:
        return settings.build_id
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=_CHECKOUT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return commit or f"v{metadata.version('arrears')}"


def deployment_version(settings: Settings) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(settings.deployment_name, build_id(settings))


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The worker's deployment version, pinned by default; None when versioning is off, and under
    ARREARS_CLOCK=server (the time-skipping test server has no Worker Versioning)."""
    if not settings.worker_versioning or settings.virtual_time:
        return None
    return WorkerDeploymentConfig(
        version=deployment_version(settings),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


async def promote(client: Client, version: WorkerDeploymentVersion, attempts: int = 60) -> None:
    """Make `version` the deployment's current one. The server learns a version from its first
    poll, so this retries briefly after the worker starts polling."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace,
        deployment_name=version.deployment_name,
        build_id=version.build_id,
        identity=client.identity,
    )
    for attempt in range(attempts):
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
        except RPCError as error:
            if attempt == attempts - 1:
                raise
            log.debug("deployment version not ready yet: %s", error.message)
            await asyncio.sleep(0.5)
            continue
        log.info("build %s is the current version of %s", version.build_id, version.deployment_name)
        return
