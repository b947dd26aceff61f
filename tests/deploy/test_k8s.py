"""k8s/: every manifest strictly valid for its Kubernetes schema, and the pieces fit together."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from backend.core.config.settings import EXAMPLE_SECRETS, AppConfig
from tests.deploy.conftest import REPO, load_yaml, load_yaml_all

K8S = REPO / "k8s"
KUBERNETES_VERSION = "1.30.0"
MANIFESTS = sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for path in MANIFESTS
        for doc in load_yaml_all(path)
    }


def deployment() -> dict[str, Any]:
    return resources()[("Deployment", "redfire-backend")]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_is_strictly_valid(path: Path) -> None:
    documents = load_yaml_all(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_unknown_and_mistyped_fields() -> None:
    bad = copy.deepcopy(deployment())
    container(bad)["livenesProbe"] = container(bad).pop("livenessProbe")  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    bad = copy.deepcopy(deployment())
    bad["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_kustomization_ties_every_manifest_but_the_secret_template() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "redfire"
    listed = set(kustomization["resources"])
    assert all((K8S / name).exists() for name in listed)
    assert listed == {path.name for path in MANIFESTS} - {"secret.example.yaml"}
    kinds = {kind for kind, _ in resources()}
    assert {
        "Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Job",
        "PodDisruptionBudget", "HorizontalPodAutoscaler",
    } <= kinds  # fmt: skip
    for (kind, name), doc in resources().items():
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == "redfire", (kind, name)


def test_secret_template_holds_no_real_secret() -> None:
    secret = resources()[("Secret", "redfire-secrets")]
    values = secret["stringData"]
    assert set(values) == {"database-url", "redis-url", "secret-key", "metrics-token"}
    assert "data" not in secret
    assert values["secret-key"] in EXAMPLE_SECRETS  # the app refuses it in production
    assert values["metrics-token"] in EXAMPLE_SECRETS
    assert "CHANGE_ME" in values["database-url"]


def test_deployment_reads_secrets_and_probes_the_split_health_endpoints() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 3
    app = container(deployment())
    from_secret = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in app["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert {name: ref["name"] for name, ref in from_secret.items()} == {
        "DATABASE_URL": "redfire-secrets",
        "REDIS_URL": "redfire-secrets",
        "SECRET_KEY": "redfire-secrets",
        "METRICS__TOKEN": "redfire-secrets",
    }
    secret_keys = set(resources()[("Secret", "redfire-secrets")]["stringData"])
    assert {ref["key"] for ref in from_secret.values()} <= secret_keys
    assert app["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert app["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert app["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert app["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert app["command"][:2] == ["redfire", "serve"]
    config = resources()[("ConfigMap", "redfire-config")]["data"]
    assert config["ENVIRONMENT"] == "production"
    assert "FORWARDED_ALLOW_IPS" not in config  # `redfire serve` reads the trusted proxies


def test_the_configmap_with_its_secrets_is_production_without_a_concern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The manifests' settings load, keep docs and /health's details closed, and draw no
    production warning (PostgreSQL, Redis and a metrics token)."""
    for name in list(os.environ):
        if "__" in name or name in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}:
            monkeypatch.delenv(name)
    monkeypatch.delenv("REDFIRE_CONFIG_FILE", raising=False)
    for name, value in resources()[("ConfigMap", "redfire-config")]["data"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://redfire:pw@postgres:5432/redfire")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    monkeypatch.setenv("METRICS__TOKEN", "m" * 32)
    config = AppConfig(_env_file=None)  # type: ignore[call-arg]
    assert config.is_production
    assert not config.docs_enabled
    assert not config.health_details
    assert not config.metrics_open
    assert config.production_concerns() == []
    assert config.security.trusted_proxies == ["10.0.0.0/8"]
    assert config.stream.ws_max_message_bytes <= 64 * 1024


def test_pod_is_locked_down_and_writes_only_to_its_volumes() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["automountServiceAccountToken"] is False
    for workload in (deployment(), resources()[("Job", "redfire-migrate")]):
        security = container(workload)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container(workload)["volumeMounts"]}
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        home = next(e["value"] for e in container(workload)["env"] if e["name"] == "HOME")
        assert "emptyDir" in volumes[mounts[home]]  # vnpy's .vntrader under HOME
        assert "emptyDir" in volumes[mounts["/tmp"]]


def test_termination_grace_outlasts_prestop_drain_and_shutdown_hooks() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    app = container(deployment())
    prestop = app["lifecycle"]["preStop"]["exec"]["command"]
    assert prestop[0] == "sleep"
    drain = int(app["command"][app["command"].index("--timeout-graceful-shutdown") + 1])
    hooks = AppConfig.model_fields["hook_timeout_seconds"].default
    assert pod["terminationGracePeriodSeconds"] > int(prestop[1]) + drain + hooks


def test_services_pdb_hpa_and_job_point_at_the_deployment() -> None:
    everything = resources()
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    port_names = {port["name"] for port in container(deployment())["ports"]}
    for name in ("redfire-backend-service", "redfire-backend-headless"):
        service = everything[("Service", name)]["spec"]
        assert service["selector"].items() <= labels.items()
        assert {port["targetPort"] for port in service["ports"]} <= port_names
    assert everything[("Service", "redfire-backend-headless")]["spec"]["clusterIP"] == "None"
    pdb = everything[("PodDisruptionBudget", "redfire-backend")]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    hpa = everything[("HorizontalPodAutoscaler", "redfire-backend")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "redfire-backend",
    }
    assert hpa["minReplicas"] == deployment()["spec"]["replicas"]
    job = everything[("Job", "redfire-migrate")]
    assert container(job)["command"] == ["redfire", "migrate"]
    assert container(job)["image"] == container(deployment())["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Migration pods are not backend pods: the Services and the PDB do not select them.
    assert not labels.items() <= job["spec"]["template"]["metadata"]["labels"].items()


def test_prometheus_scrapes_each_pod_through_the_headless_service() -> None:
    config = load_yaml(REPO / "prometheus" / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "redfire-backend"]
    (sd,) = job["dns_sd_configs"]
    headless = resources()[("Service", "redfire-backend-headless")]
    name = f"{headless['metadata']['name']}.{headless['metadata']['namespace']}.svc.cluster.local"
    assert sd["names"] == [name]
    assert sd["port"] == container(deployment())["ports"][0]["containerPort"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"  # the pods' METRICS__TOKEN
    assert job["authorization"]["credentials_file"].startswith("/etc/prometheus/secrets/")


def test_research_workers_run_the_backend_image_and_scale_on_queue_depth() -> None:
    everything = resources()
    worker = everything[("Deployment", "redfire-worker")]
    app = container(worker)
    assert app["command"] == ["redfire", "worker"]
    assert app["image"] == container(deployment())["image"]
    secrets = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["key"]
        for item in app["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert secrets == {
        "DATABASE_URL": "database-url", "REDIS_URL": "redis-url", "SECRET_KEY": "secret-key",
        "METRICS__TOKEN": "metrics-token",
    }  # fmt: skip
    # Prometheus scrapes each worker's /metrics through the worker headless Service.
    (port,) = app["ports"]
    values = {item["name"]: item.get("value") for item in app["env"]}
    assert int(values["RESEARCH__METRICS_PORT"]) == port["containerPort"]
    headless = everything[("Service", "redfire-worker-headless")]["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert headless["ports"][0]["targetPort"] == port["name"]
    scrape = load_yaml(REPO / "prometheus" / "prometheus.yml")["scrape_configs"]
    (job,) = [j for j in scrape if j["job_name"] == "redfire-worker"]
    assert job["dns_sd_configs"][0]["port"] == port["containerPort"]
    assert job["dns_sd_configs"][0]["names"] == [
        "redfire-worker-headless.redfire.svc.cluster.local"
    ]
    assert app["envFrom"] == container(deployment())["envFrom"]
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {mount["mountPath"] for mount in app["volumeMounts"]}
    assert mounts == {"/var/lib/redfire", "/tmp"}
    # SIGTERM: a job still running after the hooks' timeout is queued again, then it exits.
    hooks = AppConfig.model_fields["hook_timeout_seconds"].default
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > hooks
    # Worker pods are not API pods: the Services and the PDB do not select them.
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for name in ("redfire-backend-service", "redfire-backend-headless"):
        assert not everything[("Service", name)]["spec"]["selector"].items() <= labels.items()
    pdb = everything[("PodDisruptionBudget", "redfire-backend")]["spec"]
    assert not pdb["selector"]["matchLabels"].items() <= labels.items()
    hpa = everything[("HorizontalPodAutoscaler", "redfire-worker")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "redfire-worker"
    }  # fmt: skip
    (metric,) = hpa["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == "redfire_research_jobs_outstanding"
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "1"}
    assert 1 <= hpa["minReplicas"] <= worker["spec"]["replicas"] <= hpa["maxReplicas"]
