"""docker-compose.dev.yml: valid against the compose specification, and wired in order."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.deploy.conftest import REPO, load_yaml, run, tool

COMPOSE = REPO / "docker-compose.dev.yml"


def check_compose(path: Path) -> tuple[int, str]:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))
    return result.returncode, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification() -> None:
    code, output = check_compose(COMPOSE)
    assert code == 0, output


def test_the_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    spec = load_yaml(COMPOSE)
    spec["services"]["backend"]["depends_on"]["postgres"]["condition"] = "service_happy"
    spec["services"]["redis"]["restart_policy"] = "always"  # not a compose key
    bad = tmp_path / "compose.yml"
    bad.write_text(yaml.safe_dump(spec), encoding="utf-8")
    code, _ = check_compose(bad)
    assert code != 0


def test_services_start_in_order_with_healthchecks() -> None:
    services = load_yaml(COMPOSE)["services"]
    assert {"backend", "postgres", "redis", "prometheus", "grafana", "migrate"} <= set(services)
    assert services["migrate"]["command"] == ["redfire", "migrate"]
    assert services["backend"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for name in ("backend", "postgres", "redis", "prometheus", "grafana"):
        assert "healthcheck" in services[name], name
    backend_env = services["backend"]["environment"]
    assert backend_env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert backend_env["REDIS_URL"].startswith("redis://redis:")
    assert services["backend"]["environment"] == services["migrate"]["environment"]
    scrape = load_yaml(REPO / "prometheus" / "prometheus.compose.yml")["scrape_configs"]
    (job,) = [job for job in scrape if job["job_name"] == "redfire-backend"]
    assert job["authorization"]["credentials"] == backend_env["METRICS__TOKEN"]


def test_research_workers_share_the_backend_image_and_settings() -> None:
    services = load_yaml(COMPOSE)["services"]
    worker, backend = services["worker"], services["backend"]
    assert worker["command"] == ["redfire", "worker"]
    assert worker["image"] == backend["image"]
    assert worker["depends_on"] == backend["depends_on"]
    assert (
        worker["environment"].items()
        >= {
            key: value
            for key, value in backend["environment"].items()
            if key != "DATABASE__POOL_SIZE"
        }.items()
    )
    assert worker["deploy"]["replicas"] == 2
    assert worker["read_only"] is True
    assert "ports" not in worker


def test_bind_mounts_point_at_files_in_the_repository() -> None:
    services = load_yaml(COMPOSE)["services"]
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for name in ("prometheus", "grafana")
        for volume in services[name]["volumes"]
        if volume.startswith("./")
    }
    assert mounts["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.compose.yml"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    for source in mounts.values():
        assert (REPO / source).exists(), source
    provider = load_yaml(REPO / "grafana/provisioning/dashboards/redfire.yml")["providers"][0]
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    datasource = load_yaml(REPO / "grafana/provisioning/datasources/prometheus.yml")
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
