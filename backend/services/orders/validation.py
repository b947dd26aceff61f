"""Contract rules for a new order: symbol listed, price per type, tick and volume multiples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from backend.core.errors import DomainValidationError
from backend.domain.market import ContractInfo, OrderTicket
from backend.models.enums import OrderType
from backend.schemas.orders import OrderCreate
from backend.services.orders.fills import AccountDefaults
from backend.services.vnpy.errors import InvalidOrderError
from backend.services.vnpy.orders import build_order_request, supports_time_in_force


def _error(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", field], "msg": message}


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and value % step == 0


def _check_limit_price(
    request: OrderCreate, contract: ContractInfo, errors: list[dict[str, Any]]
) -> None:
    """A limit price makes a stop a stop-limit; no other order type takes one."""
    limit = request.limit_price
    assert limit is not None
    if request.order_type is not OrderType.STOP:
        message = "is only for stop orders (a stop-limit)"
        errors.append(_error("limit_price", message, "extra_limit_price"))
    elif limit <= 0:
        errors.append(_error("limit_price", "must be greater than 0", "greater_than"))
    elif not _is_multiple(limit, contract.price_tick):
        message = f"must be a multiple of {contract.price_tick}"
        errors.append(_error("limit_price", message, "price_tick"))


def refuse_unconvertible(symbol: str, accounts: AccountDefaults) -> None:
    """422 `currency_not_convertible` for a contract quoted in a currency without a rate."""
    if accounts.rate(symbol) is None:
        currency = accounts.contract_currency(symbol)
        message = (
            f"{symbol} is quoted in {currency} and no rate converts it into the account's "
            f"{accounts.currency} (RISK__FX_RATES)"
        )
        raise DomainValidationError([_error("symbol", message, "currency_not_convertible")])


def validate_order(request: OrderCreate, contract: ContractInfo | None) -> None:
    """Raise 422 `validation_error` with field errors when the order breaks a contract rule."""
    errors: list[dict[str, Any]] = []
    if contract is None:
        raise DomainValidationError(
            [_error("symbol", f"unknown symbol {request.symbol}", "unknown_symbol")]
        )
    if request.quantity <= 0:
        errors.append(_error("quantity", "must be greater than 0", "greater_than"))
    elif not _is_multiple(request.quantity, contract.min_volume):
        errors.append(
            _error("quantity", f"must be a multiple of {contract.min_volume}", "volume_step")
        )
    if request.order_type is OrderType.MARKET:
        if request.price is not None:
            errors.append(_error("price", "must be omitted for market orders", "extra_price"))
    elif request.price is None:
        errors.append(_error("price", f"is required for {request.order_type} orders", "missing"))
    elif request.price <= 0:
        errors.append(_error("price", "must be greater than 0", "greater_than"))
    elif not _is_multiple(request.price, contract.price_tick):
        errors.append(_error("price", f"must be a multiple of {contract.price_tick}", "price_tick"))
    if request.limit_price is not None:
        _check_limit_price(request, contract, errors)
    if not supports_time_in_force(request.order_type, request.time_in_force):
        message = f"{request.time_in_force} is not supported for {request.order_type} orders"
        errors.append(_error("time_in_force", message, "unsupported_time_in_force"))
    if errors:
        raise DomainValidationError(errors)
    try:  # the gateway speaks floats: refuse what one cannot carry exactly
        build_order_request(
            OrderTicket(
                request.symbol,
                request.side,
                request.order_type,
                request.quantity,
                request.price,
                time_in_force=request.time_in_force,
            )
        )
    except InvalidOrderError as exc:
        raise DomainValidationError([_error("quantity", str(exc), "not_representable")]) from None
