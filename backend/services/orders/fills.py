"""Apply a batch of gateway events to orders, trades, positions and accounts in one session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.market import OrderUpdate, TradeFill
from backend.models.account import Account, AccountDay, Position
from backend.models.enums import OrderStatus
from backend.models.order import Order, Trade
from backend.schemas.orders import OrderRead, TradeRead
from backend.services.orders import repository, state_machine
from backend.services.orders.account_days import DayKey, book_fill_day
from backend.services.orders.ports import MarketAccess
from backend.services.orders.positions import (
    PositionState,
    apply_fill,
    average_fill_price,
    to_cost_scale,
)
from backend.shared.utils.currency import to_money_scale

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AccountDefaults:
    """How a new paper account starts, and what its currency is worth in the contracts'."""

    currency: str
    initial_balance: Decimal
    margin_ratio: Decimal = Decimal(1)  # buying_power.py
    # vt_symbol -> the currency its prices are quoted in (unlisted: the account's).
    contract_currencies: Mapping[str, str] = field(default_factory=dict)
    # currency -> how much of the account's currency one unit is worth.
    fx_rates: Mapping[str, Decimal] = field(default_factory=dict)

    def contract_currency(self, symbol: str) -> str:
        """The currency `symbol`'s prices, PnL and commissions are in."""
        return self.contract_currencies.get(symbol, self.currency)

    def rate(self, symbol: str) -> Decimal | None:
        """The account's currency per unit of `symbol`'s; None when no rate is configured
        (such a contract's orders are refused: its PnL is never added as is)."""
        currency = self.contract_currency(symbol)
        return Decimal(1) if currency == self.currency else self.fx_rates.get(currency)


@dataclass(slots=True)
class BatchOutcome:
    """What changed, for listeners and waiters."""

    orders: list[OrderRead] = field(default_factory=list)
    trades: list[tuple[TradeRead, OrderRead]] = field(default_factory=list)
    finished_vt_orderids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Books:
    """The positions and accounts a batch has locked: each read once per batch, not per fill."""

    positions: dict[tuple[int, str], Position] = field(default_factory=dict)
    accounts: dict[int, Account] = field(default_factory=dict)
    days: dict[DayKey, AccountDay] = field(default_factory=dict)


class BatchApplier:
    """The bookkeeping of fills: each trade once, positions and accounts consistent with them."""

    def __init__(self, market: MarketAccess, accounts: AccountDefaults) -> None:
        self.market = market
        self.accounts = accounts

    async def apply(
        self,
        session: AsyncSession,
        batch: list[OrderUpdate | TradeFill],
        references: dict[str, str],
    ) -> BatchOutcome:
        """Apply `batch` in order within `session` (the caller commits)."""
        orders = await self._load_orders(session, batch, references)
        # The triggers on `orders` update each owner's open-order count as statuses change,
        # in whatever order this batch flushes them; locked here first, in the same (user id)
        # order as a booking takes them, the counts cannot deadlock against one.
        await repository.lock_open_order_counts(
            session, {order.user_id for order in orders.values()}
        )
        known_trades = await self._known_trade_ids(session, batch)
        changed: dict[int, Order] = {}
        new_trades: list[tuple[Trade, Order]] = []
        books = _Books()
        for event in batch:
            order = self._find(orders, event, references)
            if order is None:
                logger.warning("event_for_unknown_order", vt_orderid=event.vt_orderid)
                continue
            if isinstance(event, OrderUpdate):
                self._apply_update(order, event, orders)
            elif event.vt_tradeid not in known_trades:
                known_trades.add(event.vt_tradeid)
                trade = await self._record_fill(session, order, event, books)
                new_trades.append((trade, order))
            changed[order.id] = order
        Order.stamp_modified(session, changed.values())  # listeners see the stored time
        await session.flush()
        return self._outcome(changed, new_trades)

    async def _load_orders(
        self, session: AsyncSession, batch: list[OrderUpdate | TradeFill], refs: dict[str, str]
    ) -> dict[str, Order]:
        vt_ids = {event.vt_orderid for event in batch}
        references = {e.reference for e in batch if isinstance(e, OrderUpdate) and e.reference}
        references |= {refs[vt] for vt in vt_ids if vt in refs}
        loaded: dict[str, Order] = {}
        for order in await repository.lock_orders_by_reference(session, references, vt_ids):
            loaded[order.client_order_id] = order
            if order.vt_orderid:
                loaded[order.vt_orderid] = order
        return loaded

    @staticmethod
    async def _known_trade_ids(
        session: AsyncSession, batch: list[OrderUpdate | TradeFill]
    ) -> set[str]:
        trade_ids = [event.vt_tradeid for event in batch if isinstance(event, TradeFill)]
        if not trade_ids:
            return set()
        statement = select(Trade.vt_tradeid).where(Trade.vt_tradeid.in_(trade_ids))
        return set((await session.scalars(statement)).all())

    @staticmethod
    def _find(
        orders: dict[str, Order], event: OrderUpdate | TradeFill, refs: dict[str, str]
    ) -> Order | None:
        if isinstance(event, OrderUpdate) and event.reference in orders:
            return orders[event.reference]
        return orders.get(event.vt_orderid) or orders.get(refs.get(event.vt_orderid, ""))

    @staticmethod
    def _apply_update(order: Order, update: OrderUpdate, orders: dict[str, Order]) -> None:
        if order.vt_orderid is None:
            order.vt_orderid = update.vt_orderid
            orders[update.vt_orderid] = order
        status = update.status
        if status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
            reason = update.reject_reason or "rejected_by_gateway"
            state_machine.move(order, status, reason=reason)
        elif order.status is OrderStatus.PENDING:
            # Fill progress comes from trades; an acknowledgement only confirms submission.
            state_machine.move(order, OrderStatus.SUBMITTED)

    async def _record_fill(
        self, session: AsyncSession, order: Order, fill: TradeFill, books: _Books
    ) -> Trade:
        # Every amount at the 8 places it is stored with, as soon as it is computed: listeners
        # see what a read will show, and the books come out the same whether fills arrive in
        # one batch or one by one (a position's average price is a division).
        price, quantity = to_money_scale(fill.price), to_money_scale(fill.quantity)
        trade = Trade(
            order_id=order.id,
            user_id=order.user_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            quantity=quantity,
            commission=to_money_scale(fill.commission),
            vt_tradeid=fill.vt_tradeid,
            trade_time=fill.trade_time,
        )
        session.add(trade)
        if order.vt_orderid is None:
            order.vt_orderid = fill.vt_orderid
        order.avg_fill_price = to_money_scale(
            average_fill_price(order.filled_quantity, order.avg_fill_price, quantity, price)
        )
        order.filled_quantity += quantity
        target = (
            OrderStatus.FILLED
            if order.filled_quantity >= order.quantity
            else OrderStatus.PARTIALLY_FILLED
        )
        if order.status.is_final:
            # A fill after a cancel or rejection still moved money: book it, keep the status.
            logger.warning("fill_on_final_order", order_id=order.id, status=order.status.value)
        else:
            state_machine.move(order, target)
        await self._book(session, order, trade, books)
        return trade

    async def _book(self, session: AsyncSession, order: Order, trade: Trade, books: _Books) -> None:
        contract = self.market.get_contract(order.symbol)
        rate = self.accounts.rate(order.symbol)
        if rate is None:  # orders are refused without a rate: only after a settings change
            logger.error("fill_without_exchange_rate", symbol=order.symbol, trade=trade.vt_tradeid)
            rate = Decimal(0)
        # PnL in the account's currency: x contract size x exchange rate (1 in its own).
        size = (contract.size if contract is not None else Decimal(1)) * rate
        key = (order.user_id, order.symbol)
        position = books.positions.get(key)
        if position is None:
            position = books.positions[key] = await self._position(session, *key)
        before = PositionState(position.quantity, position.cost, position.realized_pnl)
        after = apply_fill(before, order.side, trade.quantity, trade.price, size)
        position.quantity = to_money_scale(after.quantity)
        position.cost = to_cost_scale(after.cost)
        position.avg_price = to_money_scale(abs(after.avg_price))
        position.realized_pnl = to_money_scale(after.realized_pnl)
        account = books.accounts.get(order.user_id)
        if account is None:
            account = books.accounts[order.user_id] = await self.account(session, order.user_id)
        realized = position.realized_pnl - before.realized_pnl
        account.realized_pnl += realized
        commission = to_money_scale(trade.commission * rate)
        account.commission += commission
        await book_fill_day(
            session,
            books.days,
            user_id=order.user_id,
            trade_time=trade.trade_time,
            realized_pnl=realized,
            commission=commission,
            balance=account.balance,
        )

    @staticmethod
    async def _position(session: AsyncSession, user_id: int, symbol: str) -> Position:
        statement = select(Position).where(Position.user_id == user_id, Position.symbol == symbol)
        position = await session.scalar(statement.with_for_update())
        if position is None:
            position = Position(
                user_id=user_id,
                symbol=symbol,
                quantity=Decimal(0),
                avg_price=Decimal(0),
                realized_pnl=Decimal(0),
                cost=Decimal(0),
            )
            session.add(position)
            await session.flush()
        return position

    async def account(self, session: AsyncSession, user_id: int) -> Account:
        """The user's paper account, opened on first use."""
        statement = select(Account).where(Account.user_id == user_id).with_for_update()
        account = await session.scalar(statement)
        if account is None:
            account = Account(
                user_id=user_id,
                currency=self.accounts.currency,
                initial_balance=self.accounts.initial_balance,
                realized_pnl=Decimal(0),
                commission=Decimal(0),
            )
            session.add(account)
            await session.flush()
        return account

    @staticmethod
    def _outcome(changed: dict[int, Order], new_trades: list[tuple[Trade, Order]]) -> BatchOutcome:
        outcome = BatchOutcome()
        reads = {order_id: OrderRead.model_validate(order) for order_id, order in changed.items()}
        outcome.orders = list(reads.values())
        outcome.trades = [
            (TradeRead.model_validate(trade), reads[order.id]) for trade, order in new_trades
        ]
        outcome.finished_vt_orderids = [
            order.vt_orderid
            for order in changed.values()
            if order.vt_orderid is not None and order.status.is_final
        ]
        return outcome
