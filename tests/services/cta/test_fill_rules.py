"""vnpy's fill rules, callback by callback: a strategy sending random orders sees the same events.

`RandomOrders` sends seeded random limit and stop orders around the close, in both directions
and with every offset, cancels some of them (also from `on_trade`, while the engine is still
crossing that bar's orders) and writes down every callback it gets with the position at that
moment. vnpy's BacktestingEngine and RedFire's CtaBacktestEngine must produce the same journal.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from vnpy.trader.constant import Direction, Offset
from vnpy.trader.object import BarData, OrderData, TradeData
from vnpy_ctastrategy.base import StopOrder
from vnpy_ctastrategy.template import CtaTemplate

from backend.services.backtest.daily import CostModel
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.backtest.window import split_at
from backend.services.cta.backtest import CtaBacktestEngine, CtaRun, stop_order
from backend.services.cta.history import bar_data
from bench.cta_reference import prepare_cta, redfire_cta_trades, run_cta, vnpy_cta_trades
from bench.vnpy_reference import vnpy_bars

BARS = random_walk_bars(3000, seed=5, tick=Decimal("0.25"))
START = BARS.datetimes[0] + timedelta(minutes=200)
COSTS = CostModel(rate=Decimal("0.0002"), slippage=Decimal("0.25"), size=Decimal(5),
                  pricetick=Decimal("0.25"))  # fmt: skip


class RandomOrders(CtaTemplate):
    """Random orders and cancels; a journal of every callback."""

    seed: int = 1
    parameters = ["seed"]  # noqa: RUF012 (vnpy declares parameters as a class list)

    def on_init(self) -> None:
        self.rng = random.Random(self.seed)
        self.journal: list[tuple[Any, ...]] = []
        self.open_ids: list[str] = []
        self.load_bar(1)

    def on_bar(self, bar: BarData) -> None:
        self.journal.append(("bar", bar.datetime, self.pos, self.trading))
        if not self.trading:
            return
        rng = self.rng
        if self.open_ids and rng.random() < 0.3:
            self.cancel_order(self.open_ids.pop(rng.randrange(len(self.open_ids))))
        if rng.random() < 0.05:
            self.cancel_all()
        for _ in range(rng.randrange(3)):
            direction = rng.choice([Direction.LONG, Direction.SHORT])
            offset = rng.choice([Offset.OPEN, Offset.CLOSE, Offset.CLOSETODAY])
            # Off the tick on purpose: prices are rounded to it.
            price = bar.close_price + rng.uniform(-3, 3)
            stop = rng.random() < 0.4
            ids = self.send_order(direction, offset, price, rng.choice([1, 2]), stop)
            self.open_ids.extend(ids)

    def on_order(self, order: OrderData) -> None:
        self.journal.append(("order", order.vt_orderid, order.status.name, order.traded,
                             order.price, order.direction, order.offset, self.pos))  # fmt: skip

    def on_stop_order(self, stop_order: StopOrder) -> None:
        ids = tuple(stop_order.vt_orderids)
        self.journal.append(("stop", stop_order.stop_orderid, stop_order.status.name, ids,
                             stop_order.price, self.pos))  # fmt: skip

    def on_trade(self, trade: TradeData) -> None:
        self.journal.append(("trade", trade.vt_tradeid, trade.vt_orderid, trade.direction,
                             trade.offset, trade.price, trade.volume, trade.datetime,
                             self.pos))  # fmt: skip
        if self.open_ids and self.rng.random() < 0.5:
            self.cancel_order(self.open_ids[-1])


def test_same_callbacks_positions_and_trades_as_vnpy() -> None:
    vnpy_engine = prepare_cta(BARS, RandomOrders, {"seed": 7}, COSTS, START)
    run_cta(vnpy_engine)
    engine = CtaBacktestEngine(COSTS)
    result = engine.run(RandomOrders, CtaRun({"seed": 7}, START), BARS)
    theirs: list[Any] = vnpy_engine.strategy.journal
    ours: list[Any] = engine.strategy.journal  # type: ignore[attr-defined]
    kinds = {entry[0] for entry in theirs}
    assert kinds == {"bar", "order", "stop", "trade"}
    assert sum(entry[0] == "trade" for entry in theirs) > 200
    # The warm-up: the 200 bars before the start reached on_bar before trading began.
    assert [entry[3] for entry in theirs[:200]] == [False] * 200
    assert ours == theirs
    replay = split_at(BARS, START)[1]
    assert redfire_cta_trades(replay, result, engine.offsets) == vnpy_cta_trades(vnpy_engine)


def test_stop_orders_are_the_objects_vnpy_builds() -> None:
    moment = BARS.datetimes[0]
    ours = stop_order("rb2501.SHFE", Direction.LONG, Offset.OPEN, 3500.5, 2, "STOP.3", "S", moment)
    theirs = StopOrder(
        vt_symbol="rb2501.SHFE", direction=Direction.LONG, offset=Offset.OPEN, price=3500.5,
        volume=2, stop_orderid="STOP.3", strategy_name="S", datetime=moment,
    )  # fmt: skip
    assert vars(ours) == vars(theirs)
    assert ours == theirs
    assert ours.vt_orderids is not theirs.vt_orderids


def test_bars_are_the_objects_vnpys_database_would_return() -> None:
    ours, theirs = bar_data(BARS), vnpy_bars(BARS)
    assert [vars(bar) for bar in ours] == [vars(bar) for bar in theirs]
    assert ours == theirs
