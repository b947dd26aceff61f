"""Gateway classes by configured name: `PAPER` built in, anything else `module:Class`."""

from __future__ import annotations

import importlib
from typing import Any

from vnpy.trader.gateway import BaseGateway

from backend.core.config.settings import VnpyConfig
from backend.services.vnpy.errors import GatewayLoadError
from backend.services.vnpy.paper_gateway import PaperGateway

BUILTIN_GATEWAYS: dict[str, type[BaseGateway]] = {PaperGateway.default_name: PaperGateway}


def resolve_gateway_class(spec: str) -> type[BaseGateway]:
    """The gateway class `spec` names; only ever called with names from configuration."""
    builtin = BUILTIN_GATEWAYS.get(spec)
    if builtin is not None:
        return builtin
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise GatewayLoadError(
            f"gateway {spec!r}: expected PAPER or 'module:Class' (e.g. 'vnpy_ctp:CtpGateway')"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        raise GatewayLoadError(f"gateway {spec!r}: package {missing} is not installed") from exc
    except Exception as exc:
        raise GatewayLoadError(f"gateway {spec!r}: importing {module_name} failed: {exc}") from exc
    gateway_class = getattr(module, class_name, None)
    if gateway_class is None:
        raise GatewayLoadError(f"gateway {spec!r}: {module_name} has no {class_name}")
    if not (isinstance(gateway_class, type) and issubclass(gateway_class, BaseGateway)):
        raise GatewayLoadError(f"gateway {spec!r}: {class_name} is not a vnpy BaseGateway")
    if not gateway_class.default_name:
        raise GatewayLoadError(f"gateway {spec!r}: {class_name} has no default_name")
    return gateway_class


def gateway_setting(
    spec: str, gateway_class: type[BaseGateway], config: VnpyConfig
) -> dict[str, Any]:
    """A gateway's `connect()` setting: `gateway_settings[name or spec]`, else PAPER's own."""
    name = gateway_class.default_name
    setting = config.gateway_settings.get(name, config.gateway_settings.get(spec))
    if setting is None and issubclass(gateway_class, PaperGateway):
        return paper_setting(config)
    return dict(setting or {})


def paper_setting(config: VnpyConfig) -> dict[str, Any]:
    """PAPER's connect setting; Decimals travel as strings so nothing passes through float."""
    contracts = [
        {
            "symbol": contract.symbol,
            "exchange": contract.exchange,
            "name": contract.name,
            "price_tick": str(contract.price_tick),
            "size": str(contract.size),
            "min_volume": str(contract.min_volume),
            "initial_price": str(contract.initial_price),
            "volatility": None if contract.volatility is None else str(contract.volatility),
        }
        for contract in config.paper_contracts
    ]
    return {
        "contracts": contracts,
        "seed": config.paper_seed,
        "tick_interval": config.paper_tick_interval,
        "commission_rate": str(config.paper_commission_rate),
    }
