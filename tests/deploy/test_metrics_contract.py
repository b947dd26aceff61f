"""Every redfire_* metric the dashboard and the rules read is on a running RedFire's /metrics."""

from __future__ import annotations

import re

import httpx

from tests.deploy.conftest import (
    APP_METRIC,
    METRICS_HEADERS,
    RedFireServer,
    all_promql,
    dashboard_variable_queries,
    traffic,
)

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "unknown": ("",),
}


def exposed_names(text: str) -> tuple[set[str], set[str]]:
    """(family names from `# TYPE` lines, every sample name they allow)."""
    families: set[str] = set()
    names: set[str] = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        family, kind = match.groups()
        base = family.removesuffix("_total") if kind == "counter" else family
        families.add(family)
        names.add(family)
        names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return families, names


def used_app_metrics() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    sources = [*all_promql(), *(("dashboard variable", q) for q in dashboard_variable_queries())]
    for where, expr in sources:
        for name in APP_METRIC.findall(expr):
            used.setdefault(name, set()).add(where)
    return used


def test_dashboard_and_rules_only_use_metrics_the_app_exports(
    redfire_server: RedFireServer,
) -> None:
    traffic(redfire_server.base_url, rounds=1)
    url = f"{redfire_server.base_url}/metrics"
    assert httpx.get(url, timeout=5).status_code == 401  # METRICS__TOKEN is set
    response = httpx.get(url, headers=METRICS_HEADERS, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families, names = exposed_names(response.text)
    assert any(f.startswith("redfire_") for f in families)
    used = used_app_metrics()
    assert len(used) >= 10
    missing = {name: sorted(where) for name, where in used.items() if name not in names}
    assert not missing, f"not on /metrics: {missing}"


def test_request_metrics_carry_route_templates_and_status_classes(
    redfire_server: RedFireServer,
) -> None:
    url = f"{redfire_server.base_url}/metrics"
    text = httpx.get(url, headers=METRICS_HEADERS, timeout=5).text
    samples = [
        line for line in text.splitlines() if line.startswith("redfire_http_requests_total{")
    ]
    assert any('route="/health/live"' in line and 'status_class="2xx"' in line for line in samples)
    assert any('status_class="4xx"' in line for line in samples)
    # Routes are templates: the unknown path must not become a label value of its own.
    assert not any("no-such-route" in line for line in samples)
