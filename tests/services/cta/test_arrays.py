"""FastArrayManager holds the same arrays and computes the same indicators as vnpy's."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from vnpy.trader.utility import ArrayManager

from backend.services.backtest.synthetic import random_walk_bars
from backend.services.cta.arrays import FastArrayManager, adopt_array_managers
from backend.services.cta.history import bar_data

BARS = bar_data(random_walk_bars(400, seed=3))
SERIES = ("open", "high", "low", "close", "volume", "turnover", "open_interest")
# Every indicator method of vnpy's ArrayManager, with arguments it accepts.
CALLS: dict[str, tuple[Any, ...]] = {
    "sma": (10,), "ema": (10,), "kama": (10,), "wma": (10,), "apo": (5, 20), "cmo": (10,),
    "mom": (10,), "ppo": (5, 20), "roc": (10,), "rocr": (10,), "rocp": (10,), "rocr_100": (10,),
    "trix": (10,), "std": (10,), "obv": (), "cci": (10,), "atr": (10,), "natr": (10,),
    "rsi": (10,), "macd": (12, 26, 9), "adx": (10,), "adxr": (10,), "dx": (10,),
    "minus_di": (10,), "plus_di": (10,), "willr": (10,), "ultosc": (), "trange": (),
    "boll": (20, 2.0), "keltner": (20, 2.0), "donchian": (20,), "aroon": (10,),
    "aroonosc": (10,), "minus_dm": (10,), "plus_dm": (10,), "mfi": (10,), "ad": (),
    "adosc": (3, 10), "bop": (), "stoch": (9, 3, 0, 3, 0), "sar": (0.02, 0.2),
}  # fmt: skip


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, tuple):
        return all(same(a, b) for a, b in zip(ours, theirs, strict=True))
    return bool(np.array_equal(np.asarray(ours), np.asarray(theirs), equal_nan=True))


def test_every_indicator_method_is_covered() -> None:
    indicators = {
        name for name, member in vars(ArrayManager).items()
        if inspect.isfunction(member) and not name.startswith("_") and name != "update_bar"
    }  # fmt: skip
    assert indicators == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_indicators_equal_vnpys_bit_for_bit(name: str) -> None:
    theirs, ours = ArrayManager(), FastArrayManager()
    for bar in BARS:
        theirs.update_bar(bar)
        ours.update_bar(bar)
    assert ours.count == theirs.count
    assert ours.inited
    assert theirs.inited
    for series in SERIES:
        assert np.array_equal(getattr(ours, series), getattr(theirs, series))
    arguments = CALLS[name]
    assert same(getattr(ours, name)(*arguments), getattr(theirs, name)(*arguments))
    assert same(getattr(ours, name)(*arguments, array=True),
                getattr(theirs, name)(*arguments, array=True))  # fmt: skip


def test_series_are_updated_in_place_as_vnpys() -> None:
    manager = FastArrayManager(size=5)
    close = manager.close_array
    for bar in BARS[:7]:
        manager.update_bar(bar)
    assert close is manager.close
    assert close.tolist() == [bar.close_price for bar in BARS[2:7]]
    assert close.flags.c_contiguous


def test_adoption_keeps_what_was_loaded() -> None:
    class Holder:
        def __init__(self) -> None:
            self.am = ArrayManager(size=10)
            self.signal = type("Signal", (), {})()
            self.signal.am = ArrayManager(size=10)

    holder, reference = Holder(), ArrayManager(size=10)
    for bar in BARS[:15]:
        holder.am.update_bar(bar)
        holder.signal.am.update_bar(bar)
        reference.update_bar(bar)
    assert adopt_array_managers(holder) == 2
    assert type(holder.am) is FastArrayManager
    assert type(holder.signal.am) is FastArrayManager
    for bar in BARS[15:30]:
        holder.am.update_bar(bar)
        reference.update_bar(bar)
    assert np.array_equal(holder.am.close, reference.close)
    assert holder.am.sma(5) == reference.sma(5)
    assert adopt_array_managers(holder) == 0
