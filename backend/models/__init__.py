"""ORM models; importing this package registers them all on Base.metadata."""

from backend.models.account import Account, AccountDay, Position
from backend.models.api_key import ApiKey
from backend.models.backtest import Backtest
from backend.models.control import IdempotencyKey, RiskSettings
from backend.models.market import MarketBar, MarketBarHour, MarketTick
from backend.models.optimization import Optimization
from backend.models.order import OpenOrderCount, OpenOrderExposure, Order, Trade
from backend.models.replica import Replica
from backend.models.revocation import RevokedSession, UsedRefreshToken
from backend.models.strategy import Strategy
from backend.models.user import User
from backend.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "Account",
    "AccountDay",
    "ApiKey",
    "Backtest",
    "IdempotencyKey",
    "MarketBar",
    "MarketBarHour",
    "MarketTick",
    "OpenOrderCount",
    "OpenOrderExposure",
    "Optimization",
    "Order",
    "Position",
    "Replica",
    "RevokedSession",
    "RiskSettings",
    "Strategy",
    "Trade",
    "UsedRefreshToken",
    "User",
    "Webhook",
    "WebhookDelivery",
]
