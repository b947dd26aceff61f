"""Pre-trade risk of a batch being booked: limits, kill switch, rates, open orders, buying power."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.monitoring.metrics import TRADING_HALTED
from backend.services.orders.buying_power import BuyingPower
from backend.services.orders.intake.submission import Submission
from backend.services.orders.ports import MarketAccess
from backend.services.orders.repository.books import read_for_booking
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

    async def assess(
        self, session: AsyncSession, batch: list[Submission], cached: RiskLimits | None
    ) -> None:
        """Pre-trade checks, in arrival order; a breach is stored as a rejected order.

        Checked against the limits, kill switch and books as committed, read (on PostgreSQL
        in one statement, under each user's lock) with the open-order counts. The per-second
        rates are counted in the cache meanwhile, for the orders the cached limits pass.
        """
        counted = [s for s in batch if cached is None or self._static(cached, s) is None]
        reads, rates = await asyncio.gather(
            read_for_booking(
                session, {s.user_id for s in batch}, self.buying_power.initial_balance
            ),
            self._rates_before(Counter(s.user_id for s in counted)),
        )
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
