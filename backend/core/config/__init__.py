"""Configuration: AppConfig and the ConfigManager."""

from backend.core.config.manager import ConfigError, ConfigManager, config_manager
from backend.core.config.settings import AppConfig, ContractConfig

__all__ = ["AppConfig", "ConfigError", "ConfigManager", "ContractConfig", "config_manager"]
