"""prometheus/: promtool checks the configs and rules, runs the alert unit tests, and parses
every PromQL expression of the rules and the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import (
    RECORDED,
    REPO,
    RULES_DIR,
    alert_names,
    all_promql,
    debian_tool,
    load_yaml,
    rules,
    run,
)

PROMETHEUS = REPO / "prometheus"
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    return debian_tool("promtool")


def with_local_secrets(config: str, tmp_path: Path) -> Path:
    """`config` as promtool can check it here: credential files (mounted from a Secret in the
    cluster) point at a file of this test, rule files at the repository's."""
    spec = load_yaml(PROMETHEUS / config)
    secret = tmp_path / "token"
    secret.write_text("a-metrics-token-for-promtool", encoding="utf-8")
    for job in spec["scrape_configs"]:
        if "credentials_file" in job.get("authorization", {}):
            job["authorization"]["credentials_file"] = str(secret)
    spec["rule_files"] = [str(PROMETHEUS / pattern) for pattern in spec["rule_files"]]
    checked = tmp_path / config
    checked.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return checked


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_promtool_check_config(promtool: str, config: str, tmp_path: Path) -> None:
    result = run(promtool, "check", "config", str(with_local_secrets(config, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_check_rules(promtool: str) -> None:
    files = sorted(str(path) for path in RULES_DIR.glob("*.yml"))
    assert files
    result = run(promtool, "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(promtool: str) -> None:
    assert UNIT_TESTS
    result = run(promtool, "test", "rules", *map(str, UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests_would_catch_a_wrong_expectation(promtool: str, tmp_path: Path) -> None:
    spec = load_yaml(UNIT_TESTS[0])
    spec["rule_files"] = [str((UNIT_TESTS[0].parent / f).resolve()) for f in spec["rule_files"]]
    for group in spec["tests"]:
        for case in group.get("alert_rule_test", []):
            for alert in case["exp_alerts"]:
                alert["exp_labels"]["severity"] = "page-the-ceo"
    mutated = tmp_path / "mutated.test.yml"
    mutated.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = run(promtool, "test", "rules", str(mutated))
    assert result.returncode != 0


def test_every_alert_has_a_unit_test_where_it_fires() -> None:
    fired: set[str] = set()
    tested: set[str] = set()
    for path in UNIT_TESTS:
        for group in load_yaml(path)["tests"]:
            for case in group.get("alert_rule_test", []):
                tested.add(case["alertname"])
                if case["exp_alerts"]:
                    fired.add(case["alertname"])
    assert alert_names() <= fired, f"alerts never shown firing: {alert_names() - fired}"
    assert tested <= alert_names(), f"tests for unknown alerts: {tested - alert_names()}"


def test_the_required_alerts_exist() -> None:
    expressions = {rule["alert"]: rule["expr"] for rule in rules() if "alert" in rule}
    required = {
        "RedFireHighErrorRatio": "error_ratio",
        "RedFireHighP99Latency": "p99",
        "RedFireNotReady": "redfire_ready",
        "RedFireOrderRejectionsSpiking": "redfire_order_rejections",
        "RedFireStrategyInError": "redfire_strategies_in_error",
        "RedFireTickFeedStalled": "redfire_ticks",
    }
    for alert, needle in required.items():
        assert needle in expressions[alert], alert
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"]


def test_recorded_series_used_anywhere_are_recorded() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    used = {name for _, expr in all_promql() for name in RECORDED.findall(expr)}
    assert used <= recorded, f"used but never recorded: {used - recorded}"


def test_every_promql_expression_parses(promtool: str, tmp_path: Path) -> None:
    expressions = all_promql()
    assert len(expressions) > 20
    rule_file = tmp_path / "parse.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "parse-check",
                        "rules": [
                            {"record": f"parse:check_{i}", "expr": expr}
                            for i, (_, expr) in enumerate(expressions)
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = run(promtool, "check", "rules", str(rule_file))
    where = "\n".join(f"{i}: {w}" for i, (w, _) in enumerate(expressions))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{where}"
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def test_the_parse_check_rejects_bad_promql(promtool: str, tmp_path: Path) -> None:
    rule_file = tmp_path / "bad.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "bad",
                        "rules": [{"record": "bad:expr", "expr": "sum by (route (rate(x[5m]))"}],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = run(promtool, "check", "rules", str(rule_file))
    assert result.returncode != 0
