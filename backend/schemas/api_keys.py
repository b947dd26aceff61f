"""API key shapes: what a user asks for, what the API shows (never the stored digest)."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from backend.schemas.common import NO_CONTROL_CHARACTERS, IsoAwareDateTime

KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                           pattern=NO_CONTROL_CHARACTERS)
]  # fmt: skip
Scope = Literal["read", "trade"]
MAX_NETWORKS = 32


class ApiKeyCreate(BaseModel):
    """A new key: `trade` lets it place and cancel orders; every key reads."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "grid bot",
                    "scopes": ["read", "trade"],
                    "allowed_networks": ["203.0.113.0/24"],
                }
            ]
        },
    )

    name: KeyName
    scopes: list[Scope] = Field(min_length=1, max_length=2)
    expires_at: IsoAwareDateTime | None = None
    allowed_networks: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=MAX_NETWORKS
    )

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return networks

    @field_validator("scopes")
    @classmethod
    def _normalise_scopes(cls, value: list[Scope]) -> list[Scope]:
        return sorted(set(value) | {"read"})  # trade implies read


class ApiKeyRead(BaseModel):
    """A key as its owner (or an admin) sees it: the public prefix, never the secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    prefix: str
    scopes: list[str]
    allowed_networks: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """The answer to a creation: the only time `key` is shown."""

    key: str = Field(description="Send as `X-API-Key`; shown once, stored only as a digest.")
