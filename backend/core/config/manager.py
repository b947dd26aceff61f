"""ConfigManager: loads AppConfig once and turns bad settings into one readable line."""

from __future__ import annotations

import os
import threading
from typing import Any

from pydantic import ValidationError

from backend.core.config.settings import CONFIG_FILE_ENV, AppConfig


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""


def describe_config_error(exc: Exception) -> str:
    """One line that names the setting and the problem, without a traceback."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"] if part != "__root__")
        message = str(first["msg"]).removeprefix("Value error, ")
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"invalid setting {location}: {message}{extra}" if location else message + extra
    return str(exc)


class ConfigManager:
    """Holds the process configuration: `load_config`, `get_config`, `reload_config`."""

    def __init__(self) -> None:
        self._config: AppConfig | None = None
        self._lock = threading.Lock()

    def load_config(self, config_path: str | None = None, **overrides: Any) -> AppConfig:
        """Build the configuration from env, .env and an optional YAML file; raise ConfigError."""
        if config_path is not None:
            os.environ[CONFIG_FILE_ENV] = config_path
        try:
            config = AppConfig(**overrides)
        except (ValidationError, FileNotFoundError, ValueError) as exc:
            raise ConfigError(describe_config_error(exc)) from None
        with self._lock:
            self._config = config
        return config

    def get_config(self) -> AppConfig:
        """The loaded configuration, loading it on first use."""
        with self._lock:
            config = self._config
        return config if config is not None else self.load_config()

    def reload_config(self) -> AppConfig:
        """Forget the loaded configuration and read it again."""
        with self._lock:
            self._config = None
        return self.load_config()


config_manager = ConfigManager()
