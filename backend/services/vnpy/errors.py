"""Errors of the vnpy execution layer."""

from __future__ import annotations

from backend.core.errors import DomainValidationError, NotFoundError, ServiceUnavailableError


class GatewayLoadError(Exception):
    """A gateway named in configuration cannot be loaded (raised at start-up)."""


class EngineNotRunningError(ServiceUnavailableError):
    """The vnpy engine is not started (or has stopped)."""

    code = "gateway_unavailable"


class UnknownGatewayError(DomainValidationError):
    """No gateway of that name is connected."""

    code = "unknown_gateway"


class InvalidOrderError(DomainValidationError):
    """The order cannot be expressed as a vnpy order request."""

    code = "invalid_order"


class OrderSendError(ServiceUnavailableError):
    """The gateway refused to take the order (vnpy returned no order id)."""

    code = "order_send_failed"


class GatewayDisconnectedError(OrderSendError):
    """The order's gateway has lost its broker connection."""

    code = "gateway_disconnected"


class OrderNotFoundError(NotFoundError):
    """No gateway knows an order with that vt_orderid."""

    code = "order_not_found"
