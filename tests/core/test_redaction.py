"""redact_short: redact_text's answer, the patterns skipped only where none could match."""

from __future__ import annotations

import pytest

from backend.core.monitoring.redaction import redact_short, redact_text


@pytest.mark.parametrize(
    "text",
    [
        "/api/v1/orders/123",
        "/api/v1/market/bars/IF2412.CFFEX",
        "/api/v1/orders/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "/api/v1/x/password=hunter2",
        "/api/v1/x/token:abc",
        "/api/v1/x/authorization,Bearer-abc",
        "/api/v1/x;api_key=abc",
    ],
)
def test_a_short_text_is_redacted_as_any_other(text: str) -> None:
    assert redact_short(text) == redact_text(text)


def test_a_text_without_a_sign_of_a_secret_is_returned_as_it_is() -> None:
    path = "/api/v1/orders/123"
    assert redact_short(path) is path
    assert "hunter2" not in redact_short("/api/v1/x/secret=hunter2")
