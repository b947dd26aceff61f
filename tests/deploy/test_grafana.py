"""grafana/: the dashboard is templated on its data source, versioned, and shows what the
issue asks for, grouped by labels the app's metrics really have."""

from __future__ import annotations

import re

from tests.deploy.conftest import APP_METRIC, dashboard, dashboard_targets

REQUIRED_PANELS = {
    "API Response Time by route",
    "Active Strategies",
    "Database Connections",
    "Request rate by route",
    "Error ratio (5xx)",
    "Orders by status",
    "Order rejections by reason",
    "Ticks/s by symbol",
    "Cache hit ratio",
    "Event bridge lag",
    "Research jobs",
    "Research queue",
}


def panels_by_title() -> dict[str, dict]:
    return {panel["title"]: panel for panel in dashboard()["panels"]}


def test_dashboard_has_uid_version_and_datasource_variable() -> None:
    board = dashboard()
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert isinstance(board["version"], int)
    assert board["version"] >= 1
    assert board["title"] == "RedFire Trading Platform"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_required_panels_are_present_and_well_formed() -> None:
    panels = panels_by_title()
    assert set(panels) >= REQUIRED_PANELS
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for title in REQUIRED_PANELS:
        targets = panels[title]["targets"]
        assert targets, title
        assert len({t["refId"] for t in targets}) == len(targets)
        for target in targets:
            assert APP_METRIC.search(target["expr"]) or "pg_stat_database" in target["expr"]


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert not cells & mine, panel["title"]
        cells |= mine


def test_queries_group_by_route_never_by_a_missing_endpoint_label() -> None:
    for title, target in dashboard_targets():
        assert "endpoint" not in target["expr"] + target.get("legendFormat", ""), title
        assert '$job"' in target["expr"] or "pg_stat" in target["expr"], title
    panels = panels_by_title()
    for title in ("API Response Time by route", "Request rate by route"):
        for target in panels[title]["targets"]:
            assert re.search(r"by \((route|route, le)\)", target["expr"]), title
            assert "{{route}}" in target["legendFormat"]
    latency = " ".join(t["expr"] for t in panels["API Response Time by route"]["targets"])
    assert "redfire_http_request_duration_seconds_bucket" in latency
    assert "histogram_quantile(0.99" in latency
    strategies = panels["Active Strategies"]["targets"][0]["expr"]
    assert "redfire_active_strategies" in strategies
