"""What the operations endpoints show to whom: /metrics, the API docs and /health's detail.

Each is open in development and test and closed in production unless a setting opens it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

MIN_METRICS_TOKEN_LENGTH = 16


class MetricsConfig(BaseModel):
    """`/metrics`: with a token, scrapes must send `Authorization: Bearer <token>`.

    Without one it is open outside production and refuses every scrape in production.
    """

    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_METRICS_TOKEN_LENGTH} characters")
        return value


class DocsConfig(BaseModel):
    """`/docs`, `/redoc` and `/openapi.json`; None: served except in production."""

    enabled: bool | None = Field(default=None)


class HealthConfig(BaseModel):
    """`/health`'s report of each dependency, the replica and the lifecycle.

    None: shown except in production, where only the status is, unless an admin asks.
    `/health/live` and `/health/ready` answer probes either way.
    """

    details: bool | None = Field(default=None)
