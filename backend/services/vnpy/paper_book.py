"""PaperBook: one contract's resting PAPER orders, sorted by the price at which each trades.

A tick must visit only the orders it fills, not every order resting in the book. Each kind of
resting order sits in a heap whose key is at most a threshold taken from the quote exactly when
the order trades (paper_market's fill rules):

- buy limit, key -price: trades when ask <= price, i.e. key <= -ask (highest price first);
- sell limit, key price: trades when bid >= price, i.e. key <= bid;
- buy stop, key price: triggers when ask >= price, i.e. key <= ask;
- sell stop, key -price: triggers when bid <= price, i.e. key <= -bid;

and a market order rests only while the other side is unquoted (it trades on the next quote
that has one). A tick pops what crosses from the heap tops, O(k log n) for k fills among n
resting orders, and hands the orders out in the order they arrived, as a scan of the whole
book would. An order handed out that the tick's depth did not fill whole comes back (add) with
its arrival number, so it keeps its time priority. A cancelled order leaves its heap entry
behind (skipped when it surfaces); the heaps are rebuilt once such entries outnumber the live
orders.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from decimal import Decimal

from vnpy.trader.constant import Direction, OrderType

from backend.services.vnpy.paper_market import PaperOrder, Quote

# (key, arrival number, order): the arrival number breaks ties, so orders are never compared.
_Entry = tuple[Decimal, int, PaperOrder]
# Stale heap entries tolerated before a rebuild, beyond one per live order.
_MIN_STALE_BEFORE_REBUILD = 1024


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
        # orderid -> (arrival number, order), in arrival order.
        self._live: dict[str, tuple[int, PaperOrder]] = {}
        self._buy_limits: list[_Entry] = []
        self._sell_limits: list[_Entry] = []
        self._buy_stops: list[_Entry] = []
        self._sell_stops: list[_Entry] = []
        self._buy_markets: dict[str, tuple[int, PaperOrder]] = {}
        self._sell_markets: dict[str, tuple[int, PaperOrder]] = {}
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
            heap, key = (
                (self._buy_limits, -order.price) if buy else (self._sell_limits, order.price)
            )
            heapq.heappush(heap, (key, arrival, order))
        else:  # STOP
            heap, key = (self._buy_stops, order.price) if buy else (self._sell_stops, -order.price)
            heapq.heappush(heap, (key, arrival, order))

    def remove(self, orderid: str) -> PaperOrder | None:
        """Take an order out (a cancel); None when it is not resting here."""
        found = self._live.pop(orderid, None)
        if found is None:
            return None
        order = found[1]
        if order.order_type == OrderType.MARKET:
            markets = self._buy_markets if order.direction == Direction.LONG else self._sell_markets
            del markets[orderid]
        else:
            self._stale += 1
            if self._stale > max(_MIN_STALE_BEFORE_REBUILD, len(self._live)):
                self._rebuild()
        return order

    def take_crossing(self, quote: Quote) -> list[PaperOrder]:
        """Remove and return the orders `quote` fills, in the order they arrived."""
        taken: list[tuple[int, PaperOrder]] = []
        ask, bid = quote.ask, quote.bid
        if ask > 0:
            self._take(self._buy_limits, -ask, taken)
            self._take(self._buy_stops, ask, taken)
            self._take_markets(self._buy_markets, taken)
        if bid > 0:
            self._take(self._sell_limits, bid, taken)
            self._take(self._sell_stops, -bid, taken)
            self._take_markets(self._sell_markets, taken)
        if len(taken) > 1:
            taken.sort(key=_arrival_of)
        return [order for _, order in taken]

    def _take(
        self, heap: list[_Entry], threshold: Decimal, taken: list[tuple[int, PaperOrder]]
    ) -> None:
        live = self._live
        while heap and heap[0][0] <= threshold:
            _key, arrival, order = heapq.heappop(heap)
            if live.pop(order.orderid, None) is None:
                self._stale -= 1  # cancelled while resting
            else:
                taken.append((arrival, order))

    def _take_markets(
        self, markets: dict[str, tuple[int, PaperOrder]], taken: list[tuple[int, PaperOrder]]
    ) -> None:
        if markets:
            for orderid, entry in markets.items():
                del self._live[orderid]
                taken.append(entry)
            markets.clear()

    def _rebuild(self) -> None:
        live = self._live
        for heap in (self._buy_limits, self._sell_limits, self._buy_stops, self._sell_stops):
            heap[:] = [entry for entry in heap if entry[2].orderid in live]
            heapq.heapify(heap)
        self._stale = 0


def _arrival_of(entry: tuple[int, PaperOrder]) -> int:
    return entry[0]
