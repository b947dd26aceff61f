"""AppConfig sources, precedence, validators and the one-line start-up errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from backend.core.config import AppConfig, ConfigError, ConfigManager

CLEAN_ENV_NAMES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENVIRONMENT", "LOG_LEVEL", "PORT")
# Nested settings' prefixes (DATABASE__POOL_SIZE...).
SECTIONS = frozenset(
    {"DATABASE", "REDIS", "SECURITY", "VNPY", "STRATEGY", "RISK", "ADMIN"}
    | {"STREAM", "BACKTEST", "REPLICAS", "METRICS", "DOCS", "HEALTH"}
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RedFire variables from the outside, and a working directory without .env."""
    for name in list(os.environ):
        prefix = name.split("__", 1)[0]
        if name in CLEAN_ENV_NAMES or ("__" in name and prefix in SECTIONS):
            monkeypatch.delenv(name)
    monkeypatch.delenv("REDFIRE_CONFIG_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_are_the_embedded_setup(clean_env: Path) -> None:
    config = AppConfig()
    assert config.database.url == "sqlite+aiosqlite:///./redfire.db"
    assert config.redis.url is None
    assert config.port == 8000
    assert config.environment == "development"
    assert config.generated_secret is True
    assert len(config.secret) >= 32


def test_each_process_generates_its_own_development_secret(clean_env: Path) -> None:
    assert AppConfig().secret != AppConfig().secret


def test_precedence_env_over_dotenv_over_yaml_over_defaults(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_file = clean_env / "redfire.yaml"
    yaml_file.write_text(
        "port: 7001\nlog_level: warning\ndatabase:\n  pool_size: 3\n  max_overflow: 4\n"
        "risk:\n  max_open_orders: 9\n"
    )
    (clean_env / ".env").write_text("PORT=7002\nDATABASE__POOL_SIZE=5\n")
    monkeypatch.setenv("REDFIRE_CONFIG_FILE", str(yaml_file))
    monkeypatch.setenv("PORT", "7003")
    config = AppConfig()
    assert config.port == 7003  # env beats .env and YAML
    assert config.database.pool_size == 5  # .env beats YAML
    assert config.database.max_overflow == 4  # YAML beats defaults
    assert config.log_level == "WARNING"
    assert config.risk.max_open_orders == 9
    assert config.database.pool_recycle == 1800  # default


def test_flat_names_map_onto_nested_settings(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://trader@db:5432/redfire")
    monkeypatch.setenv("REDIS_URL", "rediss://cache:6380/1")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    config = AppConfig()
    assert config.database.url == "postgresql+asyncpg://trader@db:5432/redfire"
    assert config.redis.url == "rediss://cache:6380/1"
    assert config.secret == "k" * 40
    assert config.generated_secret is False


def test_nested_spelling_beats_flat_within_the_same_source(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://flat@db/x")
    monkeypatch.setenv("DATABASE__URL", "postgresql+asyncpg://nested@db/x")
    assert AppConfig().database.url == "postgresql+asyncpg://nested@db/x"


def test_flat_env_beats_nested_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("DATABASE__URL=sqlite+aiosqlite:///dotenv.db\n")
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///env.db")
    assert AppConfig().database.url == "sqlite+aiosqlite:///env.db"


@pytest.mark.parametrize(
    "url",
    ["postgresql+asyncpg://u@h/db", "sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///:memory:"],
)
def test_accepted_database_urls(clean_env: Path, url: str) -> None:
    assert AppConfig(database={"url": url}).database.url == url


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///x.db", "postgresql+psycopg2://u@h/d", "x"])
def test_rejected_database_urls(clean_env: Path, url: str) -> None:
    with pytest.raises(ValidationError, match="unsupported scheme"):
        AppConfig(database={"url": url})


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://h:6380/0", "unix:///tmp/r.sock"])
def test_accepted_redis_urls(clean_env: Path, url: str) -> None:
    assert AppConfig(redis={"url": url}).redis.url == url


@pytest.mark.parametrize("url", ["http://h", "memcached://h", "h:6379"])
def test_rejected_redis_urls(clean_env: Path, url: str) -> None:
    with pytest.raises(ValidationError, match="unsupported scheme"):
        AppConfig(redis={"url": url})


def test_short_secret_is_refused(clean_env: Path) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        AppConfig(security={"secret_key": "short"})


@pytest.mark.parametrize("secret", [None, "change-me-to-a-random-string-of-at-least-32-characters"])
def test_production_refuses_missing_or_example_secret(clean_env: Path, secret: str | None) -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        AppConfig(environment="production", security={"secret_key": secret})


def test_production_accepts_a_strong_secret(clean_env: Path) -> None:
    config = AppConfig(environment="production", security={"secret_key": "s" * 48})
    assert config.generated_secret is False


STRONG = {"secret_key": "s" * 48}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"debug": True}, "DEBUG=true cannot run in production"),
        ({"security": {**STRONG, "cors_origins": ["*"]}}, "'*' cannot run in production"),
        (
            {"security": {**STRONG, "cors_origins": ["https://app.example.com", "*"]}},
            "security.cors_origins",
        ),
    ],
)
def test_production_refuses_development_settings(
    clean_env: Path, settings: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match=named.replace("*", r"\*")):
        AppConfig(environment="production", **{"security": STRONG, **settings})
    AppConfig(environment="development", **{"security": STRONG, **settings})  # fine there


def test_production_accepts_listed_cors_origins(clean_env: Path) -> None:
    origins = ["https://app.example.com"]
    config = AppConfig(environment="production", security={**STRONG, "cors_origins": origins})
    assert config.security.cors_origins == origins


@pytest.mark.parametrize(
    ("environment", "open_"), [("development", True), ("test", True), ("production", False)]
)
def test_docs_health_details_and_metrics_are_open_except_in_production(
    clean_env: Path, environment: str, open_: bool
) -> None:
    config = AppConfig(environment=environment, security=STRONG)
    assert (config.docs_enabled, config.health_details, config.metrics_open) == (open_,) * 3
    opened = AppConfig(
        environment=environment,
        security=STRONG,
        docs={"enabled": True},
        health={"details": True},
        metrics={"token": "t" * 16},
    )
    assert (opened.docs_enabled, opened.health_details, opened.metrics_open) == (True, True, False)


def test_a_short_metrics_token_is_refused(clean_env: Path) -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        AppConfig(metrics={"token": "short"})


def test_config_manager_loads_gets_and_reloads(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = ConfigManager()
    monkeypatch.setenv("PORT", "7100")
    first = manager.get_config()
    assert first.port == 7100
    assert manager.get_config() is first
    monkeypatch.setenv("PORT", "7200")
    assert manager.get_config().port == 7100
    assert manager.reload_config().port == 7200


def test_config_manager_reads_a_yaml_file(clean_env: Path) -> None:
    path = clean_env / "c.yaml"
    path.write_text("port: 7300\n")
    assert ConfigManager().load_config(str(path)).port == 7300


def test_config_manager_error_names_the_setting(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError) as info:
        ConfigManager().load_config()
    assert str(info.value) == (
        "invalid setting database.url: unsupported scheme 'mysql': "
        "use postgresql+asyncpg:// or sqlite+aiosqlite://"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "mysql://x"}, "database.url"),
        ({"ENVIRONMENT": "production"}, "SECRET_KEY is required in production"),
        ({"PORT": "not-a-port"}, "port"),
    ],
)
def test_bad_setting_stops_the_cli_with_one_line(
    clean_env: Path, env: dict[str, str], expected: str
) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_NAMES} | env
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "serve"],
        env=environment,
        cwd=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def _setting_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _setting_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_env_example_lists_every_setting_and_loads(clean_env: Path, project_root: Path) -> None:
    example = (project_root / ".env.example").read_text()
    documented = {
        line.lstrip("# ").split("=", 1)[0].strip()
        for line in example.splitlines()
        if "=" in line.split("#", 1)[-1] or "=" in line
    }
    aliases = {
        "DATABASE_URL": "DATABASE__URL",
        "REDIS_URL": "REDIS__URL",
        "SECRET_KEY": "SECURITY__SECRET_KEY",
    }
    documented |= {aliases[name] for name in documented & aliases.keys()}
    missing = _setting_names(AppConfig) - documented
    assert not missing, f".env.example does not document {sorted(missing)}"
    (clean_env / ".env").write_text(example)
    config = AppConfig()
    assert config.database.url == "sqlite+aiosqlite:///./redfire.db"
    assert config.redis.url is None
    assert config.vnpy.gateways == ["PAPER"]
    assert config.security.cors_origins == []


def test_check_config_names_production_concerns_and_hides_the_password(clean_env: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_NAMES} | {
        "ENVIRONMENT": "production",
        "SECRET_KEY": "k" * 48,
        "DATABASE_URL": "postgresql://redfire:db-password-42@db:5432/redfire",
    }
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "check-config"],
        env=environment,
        cwd=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "db-password-42" not in result.stdout
    assert "configuration ok: environment=production" in result.stdout
    assert "warning: in-memory cache" in result.stdout
    assert "warning: no METRICS__TOKEN" in result.stdout
    assert "SQLite" not in result.stdout


def test_research_engine_is_procrastinate_on_postgresql_and_local_on_sqlite(
    clean_env: Path,
) -> None:
    postgres = {"url": "postgresql+asyncpg://u:p@db/x"}
    assert AppConfig(database=postgres).research_engine == "procrastinate"
    assert AppConfig().research_engine == "local"
    assert AppConfig(database=postgres, research={"engine": "local"}).research_engine == "local"
    with pytest.raises(ValidationError, match="procrastinate keeps its jobs in PostgreSQL"):
        AppConfig(research={"engine": "procrastinate"})
