"""What a strategy's `last_error` (or a failed backtest's `error`) says about an exception."""

from __future__ import annotations

import decimal

# The decimal module's errors say only `[<class 'decimal.InvalidOperation'>]`: say it in words.
_DECIMAL_PROBLEMS: tuple[tuple[type[decimal.DecimalException], str], ...] = (
    (decimal.DivisionByZero, "a decimal division by zero"),
    (decimal.DivisionUndefined, "a decimal division with no defined result (0/0)"),
    (decimal.DivisionImpossible, "a decimal division whose quotient has too many digits"),
    (decimal.Overflow, "a decimal result too large to represent"),
    (
        decimal.InvalidOperation,
        "a decimal operation with no valid result (a number with more digits than the "
        "arithmetic keeps, or not a number)",
    ),
)


def _decimal_problem(exc: decimal.DecimalException) -> str:
    # The C implementation raises with the list of conditions as its only argument.
    named = exc.args[0] if exc.args and isinstance(exc.args[0], list) else None
    conditions = [kind for kind in named or [] if isinstance(kind, type)] or [type(exc)]
    words = next(
        (
            text
            for kind, text in _DECIMAL_PROBLEMS
            if any(issubclass(condition, kind) for condition in conditions)
        ),
        "a decimal calculation failed",
    )
    return words if named is not None or not str(exc) else f"{words}: {exc}"


class StrategyCallbackError(Exception):
    """A strategy's own code failed; the message already says where and what (kept as is)."""


def error_message(exc: BaseException) -> str:
    """What `last_error` (or a failed backtest's `error`) says about an exception.

    `Type: message`, in words for the decimal module's errors: never a Python repr. A
    StrategyCallbackError's message is complete as it is.
    """
    if isinstance(exc, StrategyCallbackError):
        return str(exc)
    if isinstance(exc, decimal.DecimalException):
        return _decimal_problem(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
