"""Market data: listed contracts, the latest tick (shared cache or local gateway), injection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from backend.core.cache.protocol import Cache
from backend.core.errors import DomainValidationError, NotFoundError
from backend.domain.market import DEPTH_FIELDS, ContractInfo
from backend.schemas.market import TickInject, TickRead
from backend.services.market.paper_feed import PaperFeed, inject
from backend.services.stream.publisher import tick_cache_key
from backend.services.vnpy.engine import RedFireVnPyEngine
from backend.services.vnpy.errors import UnknownGatewayError
from backend.services.vnpy.paper_market import DEPTH_LEVELS

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Checked:
    """A tick that passed every check, with its defaults filled in."""

    tick: TickRead
    loc: Loc


def _error(loc: Loc, field: str, message: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "loc": [*loc, field], "msg": message}


def _price_errors(tick: TickRead, step: Decimal, loc: Loc) -> list[dict[str, Any]]:
    errors = []
    for field in ("last_price", "bid_price_1", "ask_price_1"):
        price: Decimal = getattr(tick, field)
        if price <= 0:
            errors.append(_error(loc, field, "must be greater than 0", "greater_than"))
        elif price % step != 0:
            errors.append(_error(loc, field, f"must be a multiple of {step}", "price_tick"))
    if tick.bid_price_1 > tick.ask_price_1:
        errors.append(_error(loc, "bid_price_1", "must not exceed ask_price_1", "crossed_book"))
    return errors + _depth_errors(tick, step, loc)


def _depth_errors(tick: TickRead, step: Decimal, loc: Loc) -> list[dict[str, Any]]:
    """Levels 2 to 5: on the grid, each worse than the one before, none after a gap."""
    errors = []
    for side, worse in (("bid", "below"), ("ask", "above")):
        better: Decimal | None = getattr(tick, f"{side}_price_1")
        for level in range(2, DEPTH_LEVELS + 1):
            field = f"{side}_price_{level}"
            price: Decimal = getattr(tick, field)
            volume: Decimal = getattr(tick, f"{side}_volume_{level}")
            if price == 0:
                if volume != 0:
                    message = f"a volume needs {field}"
                    errors.append(_error(loc, field, message, "missing_level_price"))
                better = None
                continue
            if price < 0:
                errors.append(_error(loc, field, "must be greater than 0", "greater_than"))
                continue
            if price % step != 0:
                errors.append(_error(loc, field, f"must be a multiple of {step}", "price_tick"))
            if better is None:
                message = f"level {level} needs level {level - 1} of the {side} side"
                errors.append(_error(loc, field, message, "depth_gap"))
            elif price <= better if side == "ask" else price >= better:
                message = f"must be {worse} {side}_price_{level - 1}"
                errors.append(_error(loc, field, message, "depth_order"))
            better = price
    return errors


class MarketDataService:
    """Reads contracts and ticks for the API and feeds the PAPER market."""

    def __init__(self, market: RedFireVnPyEngine, cache: Cache, feed: PaperFeed) -> None:
        self.market = market
        self.cache = cache
        self.feed = feed

    def list_symbols(self) -> list[ContractInfo]:
        """Every listed contract, sorted by symbol."""
        return self.market.list_contracts()

    async def latest_tick(self, symbol: str) -> TickRead:
        """The newer of the shared cache's tick and this replica's; 404 when neither."""
        if self.market.get_contract(symbol) is None:
            raise NotFoundError(f"no listed symbol {symbol}", code="symbol_not_found")
        shared = await self._cached_tick(symbol)
        snapshot = self.market.get_tick(symbol)
        local = None if snapshot is None else TickRead.model_validate(snapshot)
        if shared is None and local is None:
            raise NotFoundError(f"no tick of {symbol} yet", code="tick_not_found")
        if shared is None or (local is not None and local.datetime >= shared.datetime):
            assert local is not None
            return local
        return shared

    async def _cached_tick(self, symbol: str) -> TickRead | None:
        value = await self.cache.get(tick_cache_key(symbol))
        try:
            return None if value is None else TickRead.model_validate(value)
        except ValidationError:
            return None

    async def inject(self, ticks: list[TickInject], *, single: bool) -> list[TickRead]:
        """Check every tick (422 with field errors), then publish them in order to every replica."""
        checked: list[_Checked] = []
        errors: list[dict[str, Any]] = []
        volumes: dict[str, Decimal] = {}
        for index, request in enumerate(ticks):
            loc: Loc = ("body",) if single else ("body", index)
            contract = self.market.get_contract(request.symbol)
            problem = self._symbol_problem(request.symbol, contract is not None, loc)
            if contract is None or problem is not None:
                errors.append(problem or {})
                continue
            tick = self._resolve(request, contract, volumes)
            errors += _price_errors(tick, contract.price_tick, loc)
            checked.append(_Checked(tick, loc))
        if errors:
            raise DomainValidationError(errors)
        for item in checked:
            inject(self.market, item.tick)
        injected = [item.tick for item in checked]
        await self.feed.publish(injected)
        return injected

    def _symbol_problem(self, symbol: str, listed: bool, loc: Loc) -> dict[str, Any] | None:
        if not listed:
            return _error(loc, "symbol", f"unknown symbol {symbol}", "unknown_symbol")
        try:
            self.market.paper_gateway(symbol)
        except UnknownGatewayError:
            message = f"{symbol} is not traded on the PAPER gateway"
            return _error(loc, "symbol", message, "not_paper")
        return None

    def _resolve(
        self, request: TickInject, contract: ContractInfo, volumes: dict[str, Decimal]
    ) -> TickRead:
        bid = request.last_price if request.bid_price_1 is None else request.bid_price_1
        ask = bid + contract.price_tick if request.ask_price_1 is None else request.ask_price_1
        volume = request.volume
        if volume is None:
            volume = volumes.get(contract.symbol)
        if volume is None:
            snapshot = self.market.get_tick(contract.symbol)
            volume = Decimal(0) if snapshot is None else snapshot.volume
        volumes[contract.symbol] = volume
        return TickRead(
            symbol=contract.symbol,
            last_price=request.last_price,
            bid_price_1=bid,
            ask_price_1=ask,
            bid_volume_1=request.bid_volume_1,
            ask_volume_1=request.ask_volume_1,
            volume=volume,
            datetime=(request.datetime or datetime.now(UTC)).astimezone(UTC),
            **{
                field: getattr(request, field) or Decimal(0)  # a price left out: not shown
                for field in DEPTH_FIELDS
            },
        )
