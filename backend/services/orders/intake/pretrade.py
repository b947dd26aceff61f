"""Pre-trade risk of a batch being booked: limits, kill switch, rates, open orders, buying power."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.monitoring.metrics import TRADING_HALTED
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.intake.submission import Submission
from backend.services.orders.ports import MarketAccess
from backend.services.orders.repository.books import BookingReads
from backend.services.orders.risk import (
    OrderRateLimiter,
    RiskBreach,
    RiskLimits,
    RiskSettingsStore,
    static_rejection,
    valuation_price,
)


class PreTradeRisk:
    """Marks each order of a batch with the first rule it breaks (its `rejection`), or none."""

    def __init__(
        self,
        *,
        market: MarketAccess,
        risk: RiskSettingsStore,
        rate_limiter: OrderRateLimiter,
        buying_power: BuyingPower,
    ) -> None:
        self.market = market
        self.risk = risk
        self.rate_limiter = rate_limiter
        self.buying_power = buying_power

    async def cached_limits(self) -> RiskLimits | None:
        """The limits the shared cache holds: a guess of the committed ones (see assess)."""
        return await self.risk.cached()

    def counted(self, batch: list[Submission], cached: RiskLimits | None) -> list[Submission]:
        """The orders whose rate is counted while the books are read: those the cached
        limits pass (each order's hold price is noted on the way)."""
        return [s for s in batch if cached is None or self._static(cached, s) is None]

    async def count_rates(self, orders: list[Submission]) -> dict[int, int]:
        """Count these orders for this second; how many each user had this second before."""
        return await self._rates_before(Counter(s.user_id for s in orders))

    async def uncount(self, orders: list[Submission]) -> None:
        """Take back the count of orders that went no further (a retry answered, an owner
        refused): the second's count is of orders risk sees."""
        per_user = Counter(s.user_id for s in orders)
        await asyncio.gather(*(self.rate_limiter.hit(u, -n) for u, n in per_user.items()))

    async def assess(
        self,
        session: AsyncSession,
        batch: list[Submission],
        cached: RiskLimits | None,
        reads: BookingReads,
        counted: list[Submission],
        rates: dict[int, int],
    ) -> None:
        """Pre-trade checks, in arrival order; a breach is stored as a rejected order.

        Checked against the limits, kill switch and books as committed, read (on PostgreSQL
        in one statement, under each user's lock: repository/books.py) with the open-order
        counts, while the per-second rates of `counted` orders (those the cached limits
        pass: `counted()`, `count_rates()`) were counted in the cache.
        """
        limits = reads.limits
        if limits is None:  # the first order ever: the row is created (and cached)
            limits = await self.risk.load(session)
        elif limits != cached:
            await self.risk.remember(limits)  # the next booking's guess
        TRADING_HALTED.set(1 if limits.trading_halted else 0)
        for submission in batch:
            submission.breach = self._static(limits, submission)
        counted_ids = {id(s) for s in counted}
        uncounted = [s for s in batch if s.rejection is None and id(s) not in counted_ids]
        if uncounted:  # the cache held other limits than the database: count these as well
            late = await self._rates_before(Counter(s.user_id for s in uncounted))
            rates = late | rates
        open_orders = reads.open_orders
        for submission in batch:
            if submission.rejection is not None:
                continue
            user_id, request = submission.user_id, submission.request
            rates[user_id] += 1
            if rates[user_id] > limits.max_orders_per_second:
                submission.reject(
                    "max_orders_per_second", limits.max_orders_per_second, rates[user_id]
                )
                continue
            open_orders[user_id] += 1
            if open_orders[user_id] > limits.max_open_orders:
                submission.reject("max_open_orders", limits.max_open_orders, open_orders[user_id])
                open_orders[user_id] -= 1
                continue
            holdings = reads.holdings[user_id]
            shortfall = self.buying_power.hold(
                holdings, request.symbol, request.side, request.quantity, submission.hold_price
            )
            if shortfall is not None:
                open_orders[user_id] -= 1
                submission.reject(
                    "insufficient_buying_power", shortfall.available, shortfall.required
                )

    def _static(self, limits: RiskLimits, submission: Submission) -> RiskBreach | None:
        """The rules that need no database; notes the order's hold price on the way."""
        request = submission.request
        contract = self.market.get_contract(request.symbol)
        assert contract is not None  # validated before it was queued
        tick = self.market.get_tick(request.symbol)
        submission.hold_price = valuation_price(request, tick)
        return static_rejection(limits, request, contract, tick)

    async def _rates_before(self, per_user: Counter[int]) -> dict[int, int]:
        """Count each user's orders of this batch; how many each had this second before."""
        hits = [self.rate_limiter.hit(user_id, orders) for user_id, orders in per_user.items()]
        counts = await asyncio.gather(*hits)
        return {
            user_id: count - orders
            for (user_id, orders), count in zip(per_user.items(), counts, strict=True)
        }
