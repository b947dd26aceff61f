"""A real Prometheus (Debian's package) scrapes a running RedFire on loopback, loads the rules,
and answers the dashboard's request-rate and latency queries."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.conftest import (
    METRICS_TOKEN,
    REPO,
    RULES_DIR,
    RedFireServer,
    dashboard_targets,
    debian_tool,
    free_port,
    grafana_to_promql,
    load_yaml,
    stop,
    traffic,
    wait_for,
)

RATE_WINDOW = "15s"  # $__rate_interval at a 1 s scrape interval


def redfire_job(target: str, token_file: Path) -> dict[str, Any]:
    """prometheus.yml's redfire-backend job, pointed at `target` with the token in `token_file`."""
    config = load_yaml(REPO / "prometheus" / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "redfire-backend"]
    job = {key: value for key, value in job.items() if key != "dns_sd_configs"}
    job["authorization"] = {**job["authorization"], "credentials_file": str(token_file)}
    return {**job, "scrape_interval": "1s", "static_configs": [{"targets": [target]}]}


@pytest.fixture
def prometheus(redfire_server: RedFireServer, tmp_path: Path) -> Iterator[str]:
    binary = debian_tool("prometheus")
    token_file = tmp_path / "redfire-metrics-token"
    token_file.write_text(METRICS_TOKEN, encoding="utf-8")
    target = f"127.0.0.1:{redfire_server.port}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in sorted(RULES_DIR.glob("*.yml"))],
        "scrape_configs": [
            redfire_job(target, token_file),
            # The same target without the token: refused, so the token is what lets it in.
            {
                "job_name": "without-token",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target]}],
            },
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/-/ready", deadline_s=60, process=process, log=log)
        yield url
    finally:
        stop(process)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    body = response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def finite(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if math.isfinite(float(r["value"][1]))]


def poll(
    prometheus: str, base_url: str, exprs: list[str], deadline_s: float = 60
) -> dict[str, list[dict[str, Any]]]:
    """Keep traffic flowing and query until every expression has a finite, positive answer."""
    deadline = time.monotonic() + deadline_s
    answers: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() < deadline:
        traffic(base_url, rounds=1)
        answers = {expr: finite(query(prometheus, expr)) for expr in exprs}
        if all(any(float(r["value"][1]) > 0 for r in answer) for answer in answers.values()):
            return answers
        time.sleep(0.5)
    pytest.fail(f"no finite positive answer within {deadline_s}s: {answers}")


def dashboard_exprs(title: str) -> list[str]:
    return [
        grafana_to_promql(target["expr"], rate_interval=RATE_WINDOW)
        for panel_title, target in dashboard_targets()
        if panel_title == title
    ]


def test_prometheus_scrapes_redfire_and_answers_the_dashboard(
    prometheus: str, redfire_server: RedFireServer
) -> None:
    rate = dashboard_exprs("Request rate by route")
    latency = dashboard_exprs("API Response Time by route")
    assert rate
    assert latency
    answers = poll(prometheus, redfire_server.base_url, rate + latency)
    routes = {r["metric"].get("route") for r in answers[rate[0]]}
    assert "/health/live" in routes
    assert all(r["metric"].get("route") for expr in latency for r in answers[expr])

    deadline = time.monotonic() + 30
    while True:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        health = {t["labels"]["job"]: t for t in targets["activeTargets"]}
        if health["without-token"]["health"] != "unknown" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert health["redfire-backend"]["health"] == "up", health
    assert health["without-token"]["health"] == "down", health
    assert "401" in health["without-token"]["lastError"], health

    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = [rule for group in groups for rule in group["rules"]]
    assert loaded
    assert all(rule["health"] != "err" for rule in loaded), [
        (rule["name"], rule.get("lastError")) for rule in loaded if rule["health"] == "err"
    ]
