"""A `redfire worker`'s /metrics answers as the API's: the token when set, none in production."""

from __future__ import annotations

from pydantic import SecretStr

from backend.core.config import AppConfig
from backend.services.research.worker_metrics import answer

SECRET = "worker-metrics-secret-key-that-is-long-enough-0123456789"


def request(path: str = "/metrics", authorization: str | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: worker"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status(response: bytes) -> str:
    return response.split(b"\r\n", 1)[0].decode()


def test_a_token_is_required_when_set_and_in_production() -> None:
    token = "metrics-token-for-the-workers-0123456789"
    guarded = AppConfig(
        _env_file=None,  # type: ignore[call-arg]
        security={"secret_key": SECRET},
        metrics={"token": SecretStr(token)},
    )
    assert status(answer(guarded, request())) == "HTTP/1.1 401 Unauthorized"
    assert status(answer(guarded, request(authorization="Bearer wrong"))) == (
        "HTTP/1.1 401 Unauthorized"
    )
    served = answer(guarded, request(authorization=f"Bearer {token}"))
    assert status(served) == "HTTP/1.1 200 OK"
    assert b"redfire_research_job_wait_seconds" in served
    production = AppConfig(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        security={"secret_key": SECRET},
    )
    assert status(answer(production, request())) == "HTTP/1.1 401 Unauthorized"


def test_only_get_metrics_is_answered() -> None:
    open_config = AppConfig(_env_file=None, security={"secret_key": SECRET})  # type: ignore[call-arg]
    assert status(answer(open_config, request())) == "HTTP/1.1 200 OK"
    assert status(answer(open_config, request("/admin"))) == "HTTP/1.1 404 Not Found"
    post = b"POST /metrics HTTP/1.1\r\n\r\n"
    assert status(answer(open_config, post)) == "HTTP/1.1 404 Not Found"
    garbage = b"\xff\xfe nonsense\r\n\r\n"
    assert status(answer(open_config, garbage)) == "HTTP/1.1 404 Not Found"
