"""The order service as strategies see it, and order events fed back to their strategies."""

from __future__ import annotations

from decimal import Decimal

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import ConflictError
from backend.domain.market import OrderTicket, TradeFill
from backend.models.enums import OrderSide
from backend.schemas.orders import OrderCreate, OrderRead, TradeRead
from backend.services.orders import repository
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.service import OrderService
from backend.services.strategy.engine import StrategyEngine
from backend.services.strategy.ports import PlacedOrder


class StrategyOrders:
    """StrategyOrderGateway over OrderService: same validation, risk and limits as people."""

    def __init__(self, database: AsyncDatabaseManager, orders: OrderService) -> None:
        self.database = database
        self.orders = orders

    async def place_order(
        self,
        *,
        user_id: int,
        strategy_id: int,
        ticket: OrderTicket,
    ) -> PlacedOrder:
        """Submit as the strategy's owner, in a session of its own."""
        request = OrderCreate(
            symbol=ticket.symbol,
            side=ticket.side,
            order_type=ticket.order_type,
            quantity=ticket.quantity,
            price=ticket.price,
            strategy_id=strategy_id,
        )
        result = await self.orders.submit_order(user_id=user_id, request=request)
        assert result.order is not None
        order = result.order
        return PlacedOrder(order.id, order.status, order.reject_reason, order.client_order_id)

    async def cancel_order(self, *, user_id: int, order_id: int) -> None:
        """Cancel as the owner; an order that is already final is left alone."""
        try:
            async with self.database.session() as session:
                await self.orders.cancel_order(session, user_id=user_id, order_id=order_id)
        except ConflictError:
            return

    async def get_position(self, *, user_id: int, strategy_id: int, symbol: str) -> Decimal:
        """Signed sum of the fills of the strategy's orders in `symbol`."""
        async with self.database.session_factory() as session:
            fills = await repository.strategy_fills(
                session, user_id=user_id, strategy_id=strategy_id, symbol=symbol
            )
        return sum((qty if side is OrderSide.BUY else -qty for side, qty in fills), Decimal(0))


def link_strategy_events(events: OrderEventProcessor, engine: StrategyEngine) -> None:
    """Hand committed order changes and fills to the strategy that placed the order."""

    async def on_order(order: OrderRead) -> None:
        if order.strategy_id is None:
            return
        await engine.on_order(order, strategy_id=order.strategy_id)

    async def on_trade(trade: TradeRead, order: OrderRead) -> None:
        if order.strategy_id is None:
            return
        fill = TradeFill(
            vt_tradeid=str(trade.id),
            vt_orderid=order.client_order_id,
            symbol=trade.symbol,
            gateway=order.gateway,
            side=trade.side,
            price=trade.price,
            quantity=trade.quantity,
            commission=trade.commission,
            trade_time=trade.trade_time,
        )
        await engine.on_trade(fill, strategy_id=order.strategy_id)

    events.add_order_listener(on_order)
    events.add_trade_listener(on_trade)
