"""Helpers for the deployment and observability checks (Dockerfile, compose, k8s, Prometheus,
Grafana). Tools: hadolint, check-jsonschema and kubernetes-validate are dev dependencies;
promtool and prometheus come from Debian's `prometheus` package (installed by .ci/run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RULES_DIR = REPO / "prometheus" / "rules"
DASHBOARD = REPO / "grafana" / "dashboards" / "redfire.json"

# A metric name not preceded or followed by a colon or word character, so recording-rule
# names such as job:redfire_http_requests:rate5m are not mistaken for app metrics.
APP_METRIC = re.compile(r"(?<![\w:])(redfire_[A-Za-z0-9_]+)(?![\w:])")
RECORDED = re.compile(r"(?<![\w:])([a-z_]+:[A-Za-z0-9_:]+)")
# The served app's METRICS__TOKEN: scrapes send it as a bearer token, as Prometheus does.
METRICS_TOKEN = "deploy-test-metrics-token-0123456789"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def tool(name: str) -> str:
    """A Python-installed tool (dev dependency): in this interpreter's venv, else on PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it is a dev dependency (pip install -e '.[dev]')")
    return found


def debian_tool(name: str) -> str:
    """promtool / prometheus from Debian's `prometheus` package; skip (saying why) if absent,
    except on CI (CI=true), which installs the package and must not skip silently."""
    found = shutil.which(name)
    if found is None and os.environ.get("CI") == "true":
        pytest.fail(f"{name} not found on CI: .ci/run must apt-get install prometheus")
    if found is None:
        pytest.skip(
            f"{name} not found: install Debian's prometheus package "
            "(apt-get install -y prometheus); .ci/run does, so CI runs this test"
        )
    return found


def run(*command: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output as text."""
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(load_yaml(path)["groups"])
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alert_names() -> set[str]:
    return {rule["alert"] for rule in rules() if "alert" in rule}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_targets() -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target) for every query target of every panel."""
    return [
        (panel["title"], target)
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def grafana_to_promql(expr: str, rate_interval: str = "5m", job: str = "redfire-backend") -> str:
    """Substitute the dashboard's Grafana variables to get plain PromQL."""
    return (
        expr.replace("$__rate_interval", rate_interval).replace("${job}", job).replace("$job", job)
    )


def all_promql() -> list[tuple[str, str]]:
    """(where, PromQL) for every expression in the rules and the dashboard."""
    found = [(f"rule {r.get('alert') or r.get('record')}", r["expr"]) for r in rules()]
    found += [
        (f"panel {title!r} {target['refId']}", grafana_to_promql(target["expr"]))
        for title, target in dashboard_targets()
    ]
    return found


def dashboard_variable_queries() -> list[str]:
    queries = []
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            queries.append(query.get("query", ""))
        elif variable["type"] == "query":
            queries.append(query)
    return queries


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    url: str, *, deadline_s: float, process: subprocess.Popen[bytes], log: Path, status: int = 200
) -> None:
    """Poll `url` until it answers `status`, the process dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited {process.returncode}:\n{tail(log)}")
        try:
            last = httpx.get(url, timeout=2).status_code
            if last == status:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer {status} within {deadline_s}s (last: {last}):\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def app_env(workdir: Path) -> dict[str, str]:
    """Environment for a RedFire subprocess on the embedded default, isolated in `workdir`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TEST_", "REDFIRE_", "DATABASE", "REDIS", "SECURITY__", "VNPY__", "METRICS__")
        )
        and key not in {"SECRET_KEY", "ENVIRONMENT", "PORT", "HOST"}
    }
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'redfire.db'}",
            "ENVIRONMENT": "test",
            "SECRET_KEY": "deploy-test-secret-key-0123456789abcdefghijkl",
            "METRICS__TOKEN": METRICS_TOKEN,
            "LOG_LEVEL": "WARNING",
            "HOME": str(home),  # vnpy's .vntrader goes here
            "VNPY__PAPER_TICK_INTERVAL": "0.2",
        }
    )
    return env


def traffic(base_url: str, rounds: int = 3) -> None:
    """A little traffic over several routes and status classes."""
    with httpx.Client(base_url=base_url, timeout=5) as client:
        for _ in range(rounds):
            for path in (
                "/health",
                "/health/live",
                "/health/ready",
                "/api/v1/market/symbols",
                "/api/v1/orders",  # 401 without a token
                "/api/v1/no-such-route",  # 404
            ):
                client.get(path)
            client.get("/metrics", headers=METRICS_HEADERS)


class RedFireServer:
    def __init__(self, base_url: str, port: int, log: Path) -> None:
        self.base_url = base_url
        self.port = port
        self.log = log


@pytest.fixture(scope="session")
def redfire_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedFireServer]:
    """`redfire serve` on a free loopback port, migrated SQLite, some traffic done."""
    workdir = tmp_path_factory.mktemp("redfire-app")
    env = app_env(workdir)
    migrate = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, f"redfire migrate failed:\n{migrate.stdout}{migrate.stderr}"
    port = free_port()
    log = workdir / "redfire.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for(f"{base_url}/health/ready", deadline_s=90, process=process, log=log)
        traffic(base_url)
        yield RedFireServer(base_url, port, log)
    finally:
        stop(process, timeout=45)
