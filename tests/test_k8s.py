"""Static checks of the Kubernetes manifests in deploy/k8s: they parse, reference what exists,
probe /health/live and /health/ready on the ports the processes serve, scale the worker, give it
time to drain, and mount the repository's policy directory as ARREARS_POLICY_DIR."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import environment_names

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"


def policy_files(directory: Path) -> dict[str, str]:
    """Relative path -> content of every file in a policy directory."""
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@cache
def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append(document)
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod(deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = one("Deployment", deployment)["spec"]["template"]["spec"]
    return spec


def container(deployment: str, name: str) -> dict[str, Any]:
    [found] = [c for c in pod(deployment)["containers"] if c["name"] == name]
    return found


def config() -> dict[str, str]:
    data: dict[str, str] = one("ConfigMap", "arrears-config")["data"]
    return data


def test_every_manifest_has_a_kind_a_name_and_the_kustomization_lists_every_file() -> None:
    for document in documents():
        assert document.get("apiVersion") and document.get("kind"), document
        assert document["metadata"].get("name"), document
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.parametrize(
    ("deployment", "name"), [("arrears-api", "api"), ("arrears-worker", "worker")]
)
def test_api_and_worker_are_probed_on_health_live_and_health_ready(
    deployment: str, name: str
) -> None:
    main = container(deployment, name)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert main["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert main["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert main[probe]["httpGet"]["port"] in ports, (deployment, probe)


def test_the_api_serves_on_its_container_port_and_the_service_targets_it() -> None:
    api = container("arrears-api", "api")
    assert api["command"][:2] == ["arrears", "api"]
    port = api["command"][api["command"].index("--port") + 1]
    assert {"name": "http", "containerPort": int(port)} in api["ports"]
    service = one("Service", "arrears-api")
    assert (
        service["spec"]["selector"]
        == one("Deployment", "arrears-api")["spec"]["selector"]["matchLabels"]
    )


def test_the_worker_probes_the_health_port_it_is_configured_with() -> None:
    worker = container("arrears-worker", "worker")
    assert worker["command"] == ["arrears", "worker"]
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert config()["ARREARS_WORKER_HEALTH_PORT"] == str(ports["health"])
    assert config()["ARREARS_WORKER_METRICS_PORT"] == str(ports["metrics"])
    assert config()["ARREARS_WORKER_HEALTH_HOST"] == "0.0.0.0"  # kubelet probes the pod IP


def test_a_terminated_worker_gets_longer_than_its_shutdown_grace_to_drain() -> None:
    grace = float(config()["ARREARS_WORKER_SHUTDOWN_GRACE"])
    assert pod("arrears-worker")["terminationGracePeriodSeconds"] > grace + 5


def test_the_worker_scales_horizontally_and_keeps_one_through_disruptions() -> None:
    hpa = one("HorizontalPodAutoscaler", "arrears-worker")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "arrears-worker")
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = one("PodDisruptionBudget", "arrears-worker")
    labels = one("Deployment", "arrears-worker")["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["selector"]["matchLabels"] == labels


def test_every_variable_the_pods_get_is_one_the_settings_understand() -> None:
    known = environment_names()
    assert not set(config()) - known, set(config()) - known
    for document in documents():
        if document["kind"] not in ("Deployment", "Job"):
            continue
        for spec in document["spec"]["template"]["spec"]["containers"]:
            names = {e["name"] for e in spec.get("env", [])}
            assert not names - known, names - known
            refs = {s.get("configMapRef", {}).get("name") for s in spec.get("envFrom", [])}
            assert "arrears-config" in refs, document["metadata"]["name"]


def test_every_volume_names_a_configmap_or_claim_that_is_defined() -> None:
    for document in documents():
        if document["kind"] not in ("Deployment", "Job"):
            continue
        spec = document["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for each in spec["containers"] + spec.get("initContainers", []):
            for mount in each.get("volumeMounts", []):
                assert mount["name"] in volumes, (document["metadata"]["name"], mount)
        for volume in volumes.values():
            if "configMap" in volume:
                one("ConfigMap", volume["configMap"]["name"])
            if "persistentVolumeClaim" in volume:
                one("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])


def test_the_pods_run_as_the_images_non_root_user() -> None:
    for document in documents():
        if document["kind"] not in ("Deployment", "Job"):
            continue
        spec = document["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # the Dockerfile's arrears user


def test_the_policy_configmap_is_the_repositorys_policy_directory() -> None:
    """Regenerate with `.venv/bin/python scripts/k8s_policy.py > deploy/k8s/policy.yaml`."""
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "k8s_policy.py"), str(ROOT / "policy")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert (K8S / "policy.yaml").read_text() == generated


@pytest.mark.parametrize("deployment", ["arrears-api", "arrears-worker"])
def test_the_policy_is_laid_out_as_a_tree_at_arrears_policy_dir(
    deployment: str, tmp_path: Path
) -> None:
    """Run the init container's own code on the ConfigMap's keys: the result is policy/."""
    spec = pod(deployment)
    [init] = [c for c in spec["initContainers"] if c["name"] == "policy"]
    source_mount, target_mount = init["command"][3:5]
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts[source_mount]]["configMap"]["name"] == "arrears-policy"
    main = next(c for c in spec["containers"])
    main_mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    assert main_mounts[mounts[target_mount]] == config()["ARREARS_POLICY_DIR"]

    flat = tmp_path / "configmap"
    flat.mkdir()
    for key, content in one("ConfigMap", "arrears-policy")["data"].items():
        (flat / key).write_text(content)
    (flat / "..data").mkdir()  # what a ConfigMap volume holds besides its keys
    tree = tmp_path / "policy"
    subprocess.run(
        [sys.executable, "-c", init["command"][2], str(flat), str(tree)], check=True, timeout=30
    )
    assert policy_files(tree) == policy_files(ROOT / "policy")


def test_the_event_delivery_pod_is_restarted_when_it_stops_reaching_its_store() -> None:
    events = container("arrears-events", "events")
    assert events["command"] == ["arrears", "deliver-events"]
    assert events["livenessProbe"]["exec"]["command"] == ["arrears", "deliver-events", "--check"]
    mounts = {m["mountPath"] for m in events["volumeMounts"]}
    assert config()["ARREARS_DATA_DIR"] in mounts, "the heartbeat must be on a writable path"
