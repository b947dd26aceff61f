"""Gateway classes resolved from configured names."""

from __future__ import annotations

import importlib.util
import os

import pytest

from backend.services.vnpy.engine import vnpy_engine_from_config
from backend.services.vnpy.errors import GatewayLoadError
from backend.services.vnpy.gateways import resolve_gateway_class
from backend.services.vnpy.paper_gateway import PaperGateway

from .conftest import paper_config, vnpy_threads


def test_paper_is_built_in() -> None:
    assert resolve_gateway_class("PAPER") is PaperGateway


def test_module_class_path_is_imported() -> None:
    spec = "backend.services.vnpy.paper_gateway:PaperGateway"
    assert resolve_gateway_class(spec) is PaperGateway


def test_missing_package_is_a_clear_error() -> None:
    with pytest.raises(GatewayLoadError) as caught:
        resolve_gateway_class("nonexistent_pkg:Gw")
    assert (
        str(caught.value)
        == "gateway 'nonexistent_pkg:Gw': package nonexistent_pkg is not installed"
    )


@pytest.mark.skipif(importlib.util.find_spec("vnpy_ctp") is not None, reason="vnpy_ctp installed")
def test_ctp_without_vnpy_ctp() -> None:
    with pytest.raises(GatewayLoadError, match="package vnpy_ctp is not installed"):
        resolve_gateway_class("vnpy_ctp:CtpGateway")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("CTP", "expected PAPER or 'module:Class'"),
        ("backend.services.vnpy.paper_gateway:Nope", "has no Nope"),
        ("backend.services.vnpy.types:BridgeEvent", "is not a vnpy BaseGateway"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(GatewayLoadError, match=message):
        resolve_gateway_class(spec)


async def test_start_with_a_missing_gateway_fails_cleanly() -> None:
    engine = vnpy_engine_from_config(paper_config(gateways=["PAPER", "nonexistent_pkg:Gw"]))
    with pytest.raises(GatewayLoadError, match="nonexistent_pkg"):
        await engine.start()
    assert not engine.is_running
    assert vnpy_threads() == []
    await engine.stop()  # safe after a failed start


async def test_start_fails_on_an_exchange_vnpy_does_not_know() -> None:
    config = paper_config()
    config.paper_contracts[0].exchange = "NOWHERE"
    engine = vnpy_engine_from_config(config)
    cwd = os.getcwd()
    with pytest.raises(ValueError, match="vnpy knows no exchange 'NOWHERE'"):
        await engine.start()
    assert vnpy_threads() == []
    assert os.getcwd() == cwd


async def test_duplicate_gateway_names_are_refused() -> None:
    spec = "backend.services.vnpy.paper_gateway:PaperGateway"
    engine = vnpy_engine_from_config(paper_config(gateways=["PAPER", spec]))
    with pytest.raises(GatewayLoadError, match="more than one gateway named"):
        await engine.start()
