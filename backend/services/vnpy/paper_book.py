"""PaperBook: one contract's resting PAPER orders, sorted so a tick visits only what it fills.

A tick trades the orders it crosses in the order they arrived, each on what the quote's depth
still shows (paper_gateway's `_match`), and costs what it fills, not what rests:

- Limits rest by price level (paper_levels.LimitLevels). The levels a quote crosses are one
  slice of the sorted prices, and their orders are visited oldest first across levels (a merge
  of the levels' heads). Orders take the depth best price first, so a level whose price no
  longer reaches what is left (Depth.reach) cannot trade again on this quote: it is passed over
  without visiting its orders. With thousands of orders crossed by a thin quote, a tick visits
  the orders that trade and, at most, one entry per crossed price level.
- Stops sit in heaps whose key is at most a threshold taken from the quote exactly when the
  stop triggers (paper_market's fill rules): a buy stop, key price, triggers when ask >= price
  (key <= ask); a sell stop, key -price, when bid <= price (key <= -bid). Triggered stops are
  taken out and visited in arrival order among the limits.
- A market order rests only while the other side is unquoted; the next quote with one takes it.

An order that a tick left resting keeps its arrival number, so it keeps its time priority.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal

from vnpy.trader.constant import Direction, OrderType

from backend.services.vnpy.paper_depth import Depth
from backend.services.vnpy.paper_levels import LimitLevels, Resting
from backend.services.vnpy.paper_market import PaperOrder, Quote

# (key, arrival number, order): the arrival number breaks ties, so orders are never compared.
_Entry = tuple[Decimal, int, PaperOrder]
# Stale stop entries tolerated before a rebuild, beyond one per live order.
_MIN_STALE_BEFORE_REBUILD = 1024
# What a tick visits next, oldest first: (arrival number, source, index into the triggered
# stops and taken market orders, or the price of a limit level). Sources:
_TAKEN, _BUY_LEVEL, _SELL_LEVEL = 0, 1, 2
_Next = tuple[int, int, int | Decimal]


class PaperBook:
    """The open orders of one contract (not thread-safe: the gateway's lock guards it)."""

    __slots__ = (
        "_arrival",
        "_buy_limits",
        "_buy_markets",
        "_buy_stops",
        "_live",
        "_sell_limits",
        "_sell_markets",
        "_sell_stops",
        "_stale",
    )

    def __init__(self) -> None:
        self._arrival = itertools.count()
        # orderid -> (arrival number, order).
        self._live: dict[str, Resting] = {}
        self._buy_limits = LimitLevels(buy=True)
        self._sell_limits = LimitLevels(buy=False)
        self._buy_stops: list[_Entry] = []
        self._sell_stops: list[_Entry] = []
        self._buy_markets: dict[str, Resting] = {}
        self._sell_markets: dict[str, Resting] = {}
        self._stale = 0

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[PaperOrder]:
        """The resting orders, oldest first."""
        return (order for _, order in sorted(self._live.values(), key=_arrival_of))

    def add(self, order: PaperOrder) -> None:
        """Rest an order that did not fill on arrival, or that a tick left resting."""
        if order.arrival < 0:
            order.arrival = next(self._arrival)
        arrival = order.arrival
        self._live[order.orderid] = (arrival, order)
        buy = order.direction == Direction.LONG
        if order.order_type == OrderType.MARKET:
            (self._buy_markets if buy else self._sell_markets)[order.orderid] = (arrival, order)
        elif order.order_type == OrderType.LIMIT:
            (self._buy_limits if buy else self._sell_limits).add(arrival, order)
        else:  # STOP
            heap, key = (self._buy_stops, order.price) if buy else (self._sell_stops, -order.price)
            heapq.heappush(heap, (key, arrival, order))

    def remove(self, orderid: str) -> PaperOrder | None:
        """Take an order out (a cancel); None when it is not resting here."""
        found = self._live.pop(orderid, None)
        if found is None:
            return None
        arrival, order = found
        buy = order.direction == Direction.LONG
        if order.order_type == OrderType.MARKET:
            del (self._buy_markets if buy else self._sell_markets)[orderid]
        elif order.order_type == OrderType.LIMIT:
            (self._buy_limits if buy else self._sell_limits).remove(arrival, order.price)
        else:  # a stop's heap entry stays behind, skipped when it surfaces
            self._stale += 1
            if self._stale > max(_MIN_STALE_BEFORE_REBUILD, len(self._live)):
                self._rebuild()
        return order

    def match_crossing(
        self, quote: Quote, depth: Depth, match: Callable[[PaperOrder], bool]
    ) -> None:
        """Offer `match` the orders `quote` crosses, oldest first, while `depth` (the quote's,
        which `match` takes from) can still serve them; `match` trades one and says whether it
        is done (else it rests on, in its place)."""
        ask, bid = quote.ask, quote.bid
        taken: list[Resting] = []
        following: list[_Next] = []
        if ask > 0:
            self._take_stops(self._buy_stops, ask, taken)
            self._take_markets(self._buy_markets, taken)
            if depth.reach(buy=True) is not None:
                following.extend(_heads(self._buy_limits, ask, _BUY_LEVEL))
        if bid > 0:
            self._take_stops(self._sell_stops, -bid, taken)
            self._take_markets(self._sell_markets, taken)
            if depth.reach(buy=False) is not None:
                following.extend(_heads(self._sell_limits, bid, _SELL_LEVEL))
        if taken:
            taken.sort(key=_arrival_of)
            following.append((taken[0][0], _TAKEN, 0))
        heapq.heapify(following)
        while following:
            _arrival, source, place = following[0]
            if source == _TAKEN:
                assert isinstance(place, int)
                order = taken[place][1]
                if not match(order):
                    # A stop-limit that triggered and rests as a limit: its price crosses no
                    # more depth (else it would have traded), so its level is passed over.
                    self.add(order)
                if place + 1 < len(taken):
                    heapq.heapreplace(following, (taken[place + 1][0], _TAKEN, place + 1))
                else:
                    heapq.heappop(following)
                continue
            assert isinstance(place, Decimal)
            levels = self._buy_limits if source == _BUY_LEVEL else self._sell_limits
            reach = depth.reach(levels.buy)
            if reach is None or not levels.reaches(place, reach):
                heapq.heappop(following)  # nothing within this price is left to take
                continue
            order = levels.levels[place][0][1]
            if not match(order):  # filled in part or not at all: nothing is left within its price
                heapq.heappop(following)
                continue
            del self._live[order.orderid]
            level = levels.pop_oldest(place)
            if level is None:
                heapq.heappop(following)
            else:
                heapq.heapreplace(following, (level[0][0], source, place))

    def _take_stops(self, heap: list[_Entry], threshold: Decimal, taken: list[Resting]) -> None:
        live = self._live
        while heap and heap[0][0] <= threshold:
            _key, arrival, order = heapq.heappop(heap)
            if live.pop(order.orderid, None) is None:
                self._stale -= 1  # cancelled while resting
            else:
                taken.append((arrival, order))

    def _take_markets(self, markets: dict[str, Resting], taken: list[Resting]) -> None:
        if markets:
            for orderid, entry in markets.items():
                del self._live[orderid]
                taken.append(entry)
            markets.clear()

    def _rebuild(self) -> None:
        live = self._live
        for heap in (self._buy_stops, self._sell_stops):
            heap[:] = [entry for entry in heap if entry[2].orderid in live]
            heapq.heapify(heap)
        self._stale = 0


def _heads(levels: LimitLevels, touch: Decimal, source: int) -> Iterator[_Next]:
    """The oldest order's arrival at each level `touch` crosses."""
    resting = levels.levels
    return ((resting[price][0][0], source, price) for price in levels.crossed_by(touch))


def _arrival_of(entry: Resting) -> int:
    return entry[0]
