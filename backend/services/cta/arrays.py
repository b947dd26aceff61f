"""FastArrayManager: vnpy's ArrayManager with the same arrays and indicator values, cheaper.

A CTA strategy spends most of a backtest in its ArrayManager: `update_bar` shifts seven numpy
arrays one by one (fourteen numpy calls per bar), and every indicator goes through talib's
Python wrapper, which checks each argument for a pandas or polars Series. This subclass keeps
the seven series as consecutive slices of one buffer (one shift per bar instead of seven, each
series still a contiguous array updated in place, as vnpy's are) and runs vnpy's own indicator
methods with talib's C functions unwrapped. The values are bit for bit the same
(tests/services/cta).

`adopt_array_managers` switches the plain ArrayManager instances a strategy holds (directly or
one object down, as CtaSignal members) to this class, keeping their contents.
"""

from __future__ import annotations

import types
from typing import Any, cast

import numpy as np
import talib
import vnpy.trader.utility as vnpy_utility
from vnpy.trader.object import BarData
from vnpy.trader.utility import ArrayManager

_SERIES = (
    "open_array",
    "high_array",
    "low_array",
    "close_array",
    "volume_array",
    "turnover_array",
    "open_interest_array",
)


def _unwrapped_talib() -> types.SimpleNamespace:
    """talib's functions without the pandas/polars wrapper (absent when neither is installed)."""
    names: list[str] = getattr(talib, "__TA_FUNCTION_NAMES__")  # noqa: B009 (not exported)
    return types.SimpleNamespace(
        **{
            name: getattr(getattr(talib, name), "__wrapped__", getattr(talib, name))
            for name in names
        }
    )


class FastArrayManager(ArrayManager):
    """ArrayManager whose seven series are consecutive slices of one buffer, shifted together."""

    _buffer: np.ndarray
    _shift_to: np.ndarray
    _shift_from: np.ndarray

    def __init__(self, size: int = 100) -> None:
        super().__init__(size)
        self.adopt()

    def adopt(self) -> None:
        """Move the current series into one buffer; the attributes become slices of it."""
        size = self.size
        buffer = np.concatenate([getattr(self, name) for name in _SERIES]).astype(np.float64)
        self._buffer = buffer
        self._shift_to, self._shift_from = buffer[:-1], buffer[1:]
        for index, name in enumerate(_SERIES):
            setattr(self, name, buffer[index * size : (index + 1) * size])

    def update_bar(self, bar: BarData) -> None:
        """vnpy's update_bar: count, inited, shift left by one, the bar's values last.

        Shifting the whole buffer moves each series' oldest value into the end of the series
        before it, which the bar's value then overwrites: the seven shifts of vnpy in one.
        """
        self.count += 1
        if not self.inited and self.count >= self.size:
            self.inited = True
        self._shift_to[...] = self._shift_from
        self.open_array[-1] = bar.open_price
        self.high_array[-1] = bar.high_price
        self.low_array[-1] = bar.low_price
        self.close_array[-1] = bar.close_price
        self.volume_array[-1] = bar.volume
        self.turnover_array[-1] = bar.turnover
        self.open_interest_array[-1] = bar.open_interest


def _install_unwrapped_indicators() -> None:
    """Give FastArrayManager vnpy's indicator methods, reading `talib` as the unwrapped one."""
    namespace = dict(vars(vnpy_utility))
    namespace["talib"] = _unwrapped_talib()
    for name, member in vars(ArrayManager).items():
        if isinstance(member, types.FunctionType) and "talib" in member.__code__.co_names:
            method = types.FunctionType(
                member.__code__, namespace, name, member.__defaults__, member.__closure__
            )
            method.__doc__ = member.__doc__
            method.__kwdefaults__ = member.__kwdefaults__
            setattr(FastArrayManager, name, method)


_install_unwrapped_indicators()


def _adopt(value: Any) -> bool:
    if type(value) is ArrayManager:
        value.__class__ = FastArrayManager
        cast(FastArrayManager, value).adopt()
        return True
    return False


def adopt_array_managers(strategy: Any) -> int:
    """Switch the strategy's plain ArrayManagers (and its members' ones) to FastArrayManager."""
    adopted = 0
    for value in list(vars(strategy).values()):
        if _adopt(value):
            adopted += 1
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            for inner in list(vars(value).values()):
                adopted += _adopt(inner)
    return adopted
