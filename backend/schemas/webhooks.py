"""Webhook shapes: the definition, its deliveries, and the TradingView-style alert it takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from backend.models.enums import OrderSide
from backend.schemas.api_keys import KeyName
from backend.schemas.common import INTEGER_MAX, Amount, PlainText
from backend.schemas.orders import Symbol

WebhookAuth = Literal["secret", "signature"]
SenderId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")
]


class WebhookCreate(BaseModel):
    """A new webhook: how senders prove themselves, and where its orders are attributed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "TradingView IF", "auth": "secret"}]},
    )

    name: KeyName
    auth: WebhookAuth = Field(
        default="secret",
        description="`secret`: the alert's `secret` field; `signature`: `X-Signature-256`.",
    )
    strategy_id: int | None = Field(default=None, ge=1, le=INTEGER_MAX)


class WebhookRead(BaseModel):
    """A webhook as its owner sees it (the secret is shown at creation only)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    auth: str
    strategy_id: int | None
    is_active: bool
    url: str = Field(description="Where alerts are posted (unguessable).")
    created_at: datetime


class WebhookCreated(WebhookRead):
    """The answer to a creation: the only time `secret` is shown."""

    secret: str


class TradingViewAlert(BaseModel):
    """An alert, as a TradingView alert message (JSON) or any other sender posts it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"id": "IF-long-2024-12-02T09:31:00Z", "symbol": "IF2412.CFFEX",
                          "action": "buy", "quantity": "1", "secret": "<the webhook's secret>"}]
        },
    )  # fmt: skip

    id: SenderId = Field(description="The sender's id of this alert: a redelivery is ignored.")
    symbol: Symbol
    action: OrderSide
    quantity: Amount
    price: Amount | None = Field(default=None, description="A limit price; none: market order.")
    secret: str | None = Field(default=None, max_length=256)
    comment: PlainText | None = Field(default=None, max_length=255)

    @field_validator("action", mode="before")
    @classmethod
    def _upper_action(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def recorded(self) -> dict[str, Any]:
        """What a delivery keeps of the alert (never the secret)."""
        shown = self.model_dump(mode="json", exclude={"secret"}, exclude_none=True)
        return shown


class DeliveryRead(BaseModel):
    """One delivery to a webhook and its outcome."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    webhook_id: int
    sender_id: str | None
    received_at: datetime
    outcome: Literal["placed", "rejected", "duplicate", "invalid", "refused"]
    status_code: int
    order_id: int | None
    error: str | None
    alert: dict[str, Any] | None
