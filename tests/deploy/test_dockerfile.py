"""The Dockerfile: hadolint-clean, multi-stage, slim vnpy, non-root, health-checked."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.conftest import REPO, run, tool

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_hadolint_passes() -> None:
    result = run(tool("hadolint"), "--no-color", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && apt-get install gcc\n", encoding="utf-8")
    result = run(tool("hadolint"), "--no-color", str(bad))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


def test_multi_stage_runtime_runs_as_uid_1000_with_healthcheck() -> None:
    steps = instructions()
    assert sum(keyword == "FROM" for keyword, _ in steps) >= 2
    runtime = final_stage()
    assert "AS runtime" in runtime[0][1]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] in {"1000", "redfire"}
    (healthcheck,) = [args for keyword, args in runtime if keyword == "HEALTHCHECK"]
    assert "/health/live" in healthcheck
    (cmd,) = [args for keyword, args in runtime if keyword == "CMD"]
    # `redfire serve`: uvicorn gets the WebSocket frame limit and trusted proxies from settings.
    assert cmd.startswith('["redfire", "serve"'), cmd
    assert "uvicorn" not in cmd
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert "FORWARDED_ALLOW_IPS" not in env  # proxies are SECURITY__TRUSTED_PROXIES, one setting
    assert "ENVIRONMENT=production" in env
    assert "HOST=0.0.0.0" in env
    assert "HOME=/var/lib/redfire" in env  # vnpy's .vntrader lives under HOME
    run_steps = " ".join(args for keyword, args in runtime if keyword == "RUN")
    assert "/var/lib/redfire/.vntrader" in run_steps
    assert "chown -R 1000:1000 /var/lib/redfire" in run_steps


def test_dependencies_come_from_pyproject_without_qt() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "requirements.txt" not in text  # the project's dependencies live in pyproject.toml
    assert "docker/install_runtime.py deps" in text
    assert "docker/install_runtime.py check" in text
    lines = (REPO / "docker" / "requirements-vnpy-core.txt").read_text().splitlines()
    names = {
        re.split(r"[<>=!~; \[]", line.strip(), maxsplit=1)[0].lower()
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert {"numpy", "ta-lib", "tzlocal", "loguru"} <= names
    assert names.isdisjoint({"pyside6", "pyqtgraph", "qdarkstyle", "plotly", "vnpy"})


def test_dockerignore_only_lets_the_build_inputs_in() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "**"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set()
    for keyword, args in instructions():
        if keyword == "COPY" and "--from" not in args:
            copied.update(part.rstrip("/") for part in args.split()[:-1])
    assert copied <= allowed, f"COPY sources excluded by .dockerignore: {copied - allowed}"
    assert {".env", ".venv", "tests"}.isdisjoint(allowed)
