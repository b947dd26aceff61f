"""Accounts and trading services, one typed dependency each."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from backend.api.deps.connection import container_of
from backend.services.auth import AuthService
from backend.services.auth.access import AccessGuard
from backend.services.market.quotes import MarketDataService
from backend.services.orders.fills import AccountDefaults
from backend.services.orders.risk import RiskSettingsStore
from backend.services.orders.service import OrderService
from backend.services.users import UserService
from backend.services.users.administration import UserAdministration
from backend.services.vnpy.engine import RedFireVnPyEngine


async def get_auth_service(connection: HTTPConnection) -> AuthService:
    """Login, refresh, logout and token checks."""
    container = container_of(connection)
    return AuthService(container.security, container.revocations)


async def get_user_service(connection: HTTPConnection) -> UserService:
    """Account rules."""
    return UserService(container_of(connection).security.passwords)


async def get_user_administration(connection: HTTPConnection) -> UserAdministration:
    """Account changes and what follows them once committed (sessions, strategies, orders)."""
    container = container_of(connection)
    return UserAdministration(
        UserService(container.security.passwords),
        access=container.access,
        strategies=container.strategies,
        orders=container.trading.orders,
    )


async def get_access_guard(connection: HTTPConnection) -> AccessGuard:
    """Who may act, cached per user on every replica."""
    return container_of(connection).access


async def get_order_service(connection: HTTPConnection) -> OrderService:
    """The order path shared by people and strategies."""
    return order_service_of(connection)


def order_service_of(connection: HTTPConnection) -> OrderService:
    """The order service as a plain call, for the `authenticated` hot endpoints."""
    return container_of(connection).trading.orders


async def get_market_engine(connection: HTTPConnection) -> RedFireVnPyEngine:
    """This replica's gateways: contracts, ticks, positions' marks."""
    return container_of(connection).trading.market


async def get_account_defaults(connection: HTTPConnection) -> AccountDefaults:
    """The paper account's currency, opening balance and margin ratio."""
    return container_of(connection).trading.accounts


async def get_risk_settings(connection: HTTPConnection) -> RiskSettingsStore:
    """The pre-trade limits and the kill switch."""
    return container_of(connection).trading.risk


async def get_market_data(connection: HTTPConnection) -> MarketDataService:
    """Contracts and ticks of this replica's gateways, and the shared latest ticks."""
    container = container_of(connection)
    trading = container.trading
    return MarketDataService(trading.market, container.cache, trading.paper_feed)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
UserServiceDep = Annotated[UserService, Depends(get_user_service)]
UserAdministrationDep = Annotated[UserAdministration, Depends(get_user_administration)]
AccessGuardDep = Annotated[AccessGuard, Depends(get_access_guard)]
OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]
MarketEngineDep = Annotated[RedFireVnPyEngine, Depends(get_market_engine)]
AccountDefaultsDep = Annotated[AccountDefaults, Depends(get_account_defaults)]
RiskSettingsDep = Annotated[RiskSettingsStore, Depends(get_risk_settings)]
MarketDataDep = Annotated[MarketDataService, Depends(get_market_data)]
