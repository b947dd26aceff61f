"""FastArrayManager: vnpy's ArrayManager with the same arrays and indicator values, cheaper.

A CTA strategy spends most of a backtest in its ArrayManager: `update_bar` shifts seven numpy
arrays one by one (fourteen numpy calls per bar), and every indicator goes through talib's
Python wrapper, which checks each argument for a pandas or polars Series. This subclass keeps
the seven series as the rows of one 7 x size matrix (two numpy calls per bar, each row still a
contiguous array updated in place, as vnpy's are) and runs vnpy's own indicator methods with
talib's C functions unwrapped. The values are bit for bit the same (tests/services/cta).

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
    """ArrayManager whose seven series are rows of one matrix, shifted together."""

    _matrix: np.ndarray

    def __init__(self, size: int = 100) -> None:
        super().__init__(size)
        self.adopt()

    def adopt(self) -> None:
        """Move the current series into one matrix; the attributes become its rows."""
        matrix = np.vstack([getattr(self, name) for name in _SERIES])
        self._matrix = matrix
        for name, row in zip(_SERIES, matrix, strict=True):
            setattr(self, name, row)

    def update_bar(self, bar: BarData) -> None:
        """vnpy's update_bar: count, inited, shift left by one, the bar's values last."""
        self.count += 1
        if not self.inited and self.count >= self.size:
            self.inited = True
        matrix = self._matrix
        matrix[:, :-1] = matrix[:, 1:]
        matrix[:, -1] = (
            bar.open_price,
            bar.high_price,
            bar.low_price,
            bar.close_price,
            bar.volume,
            bar.turnover,
            bar.open_interest,
        )


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
