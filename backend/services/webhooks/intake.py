"""SignalIntake: an alert posted to a webhook becomes an order, once, through the risk checks.

Order of the checks: the sender's address is not over its failure limit for this webhook
(429), the webhook
exists and is active and its owner too, and the secret or signature is right (401 and
nothing stored otherwise: all look alike to the sender); then the webhook's rate limit (429).
From there every delivery is recorded with its outcome, in a session of its own (the answer
may be an error): the alert must parse (400/422 `invalid`), the owner must trade (403
`refused`), and the order goes through OrderService.submit_order with the Idempotency-Key
`webhook:<id>:<alert id>`, so a redelivery replays the first order (`duplicate`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import (
    AuthenticationError,
    BadRequestError,
    DomainValidationError,
    ReadOnlyError,
    RedFireError,
)
from backend.core.security.keyed_hash import SecretDigester, same_text, sign
from backend.core.security.rate_limit import RateLimiter
from backend.models.enums import OrderStatus, OrderType, UserRole
from backend.models.user import User
from backend.models.webhook import Webhook, WebhookDelivery
from backend.schemas.orders import OrderCreate
from backend.schemas.webhooks import DeliveryRead, TradingViewAlert
from backend.services.orders.service import OrderService
from backend.services.webhooks.service import webhook_secret

logger = structlog.get_logger(__name__)
SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True, slots=True)
class _Target:
    """The webhook a delivery is for, and whether its owner may trade."""

    webhook_id: int
    user_id: int
    auth: str
    secret: str
    strategy_id: int | None
    owner_role: UserRole


@dataclass(frozen=True, slots=True)
class DeliveryAnswer:
    """The status to answer a delivery with, and its record."""

    status_code: int
    delivery: DeliveryRead


def _unauthenticated() -> AuthenticationError:
    return AuthenticationError("unknown webhook or wrong secret", code="invalid_signature")


class SignalIntake:
    """Authenticates deliveries, records them, and places their orders."""

    def __init__(
        self,
        database: AsyncDatabaseManager,
        digester: SecretDigester,
        orders: OrderService,
        *,
        failures: RateLimiter,
        deliveries: RateLimiter,
    ) -> None:
        self.database = database
        self.digester = digester
        self.orders = orders
        self.failures = failures
        self.deliveries = deliveries

    async def deliver(
        self, public_id: str, body: bytes, *, signature: str | None, client_ip: str
    ) -> DeliveryAnswer:
        """Place the alert's order (201), answer a redelivery with it (200), or raise."""
        # Failures count per (address, webhook): senders such as TradingView deliver every
        # user's alerts from a few addresses, and one misconfigured webhook must not lock
        # out the others. Guessing a webhook's URL (192 random bits) is hopeless anyway.
        await self.failures.check(client_ip, public_id)
        target = await self._target(public_id)
        payload = _loads(body)
        if target is None or not self._authentic(target, body, payload, signature):
            logger.info("webhook_refused", reason="credentials", client_ip=client_ip)
            await self.failures.hit(client_ip, public_id)
            raise _unauthenticated()
        await self.deliveries.hit(public_id)
        try:
            alert = _alert(payload)
        except RedFireError as exc:
            await self._record(target, None, None, exc.status_code, "invalid", exc.code)
            raise
        shown = alert.recorded()
        if target.owner_role is UserRole.VIEWER:
            await self._record(target, alert.id, shown, 403, "refused", "read_only")
            raise ReadOnlyError("the webhook's owner may not trade")
        request = OrderCreate(
            symbol=alert.symbol,
            side=alert.action,
            order_type=OrderType.MARKET if alert.price is None else OrderType.LIMIT,
            quantity=alert.quantity,
            price=alert.price,
            strategy_id=target.strategy_id,
        )
        key = f"webhook:{target.webhook_id}:{alert.id}"
        try:
            result = await self.orders.submit_order(
                user_id=target.user_id, request=request, idempotency_key=key
            )
        except RedFireError as exc:
            outcome = "invalid" if exc.status_code == 422 else "refused"
            await self._record(target, alert.id, shown, exc.status_code, outcome, exc.code)
            raise
        if result.replayed_body is not None:
            order_id = result.replayed_body.get("id")
            delivery = await self._record(
                target, alert.id, shown, 200, "duplicate", None, order_id=_int_or_none(order_id)
            )
            return DeliveryAnswer(200, delivery)
        assert result.order is not None
        rejected = result.order.status is OrderStatus.REJECTED
        outcome = "rejected" if rejected else "placed"
        reason = (
            result.order.reject_reason[:64] if rejected and result.order.reject_reason else None
        )
        delivery = await self._record(
            target, alert.id, shown, result.status_code, outcome, reason, order_id=result.order.id
        )
        return DeliveryAnswer(result.status_code, delivery)

    def _authentic(self, target: _Target, body: bytes, payload: Any, signature: str | None) -> bool:
        if target.auth == "signature":
            given = (signature or "").strip().lower().removeprefix(SIGNATURE_PREFIX)
            return same_text(given, sign(target.secret, body))
        sent = payload.get("secret") if isinstance(payload, dict) else None
        return isinstance(sent, str) and same_text(sent, target.secret)

    async def _target(self, public_id: str) -> _Target | None:
        statement = (
            select(Webhook, User.is_active, User.role)
            .join(User, User.id == Webhook.user_id)
            .where(Webhook.public_id == public_id)
        )
        async with self.database.session_factory() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None or not row[0].is_active or not row.is_active:
            return None
        webhook: Webhook = row[0]
        return _Target(
            webhook_id=webhook.id,
            user_id=webhook.user_id,
            auth=webhook.auth,
            secret=webhook_secret(self.digester, webhook),
            strategy_id=webhook.strategy_id,
            owner_role=row.role,
        )

    async def _record(
        self,
        target: _Target,
        sender_id: str | None,
        alert: dict[str, Any] | None,
        status_code: int,
        outcome: str,
        error: str | None,
        *,
        order_id: int | None = None,
    ) -> DeliveryRead:
        delivery = WebhookDelivery(
            webhook_id=target.webhook_id,
            sender_id=sender_id,
            outcome=outcome,
            status_code=status_code,
            order_id=order_id,
            error=error,
            alert=alert,
        )
        async with self.database.session() as session:
            session.add(delivery)
            await session.flush()
            recorded = DeliveryRead.model_validate(delivery)
        logger.info(
            "webhook_delivered",
            webhook_id=target.webhook_id,
            user_id=target.user_id,
            sender_id=sender_id,
            outcome=outcome,
            order_id=order_id,
        )
        return recorded


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # {"action": "buy", "action": "sell"}: two readers, two orders
        raise ValueError("duplicate key")
    return result


def _loads(body: bytes) -> Any:
    """The JSON body, or None when it does not parse (or repeats a key)."""
    try:
        return json.loads(body, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return None


def _alert(payload: Any) -> TradingViewAlert:
    """The alert in a JSON body; 400 `malformed_json` or 422 `validation_error` otherwise."""
    if payload is None:
        raise BadRequestError("the body is not valid JSON", code="malformed_json")
    try:
        return TradingViewAlert.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()
        ]
        raise DomainValidationError(errors) from None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None
