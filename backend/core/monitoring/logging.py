"""Structured logs: JSON lines with the request id, for our code, uvicorn and vnpy alike."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog

from backend.core.monitoring.redaction import SecretRedactingFilter, redact_text

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Keys whose values never reach a log line, whoever logs them.
SECRET_KEYS = frozenset(
    {
        "password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "secret_key",
        "authorization",
        "secret",
    }
)


def add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current request's id, when there is one."""
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: secret values never reach a line."""
    for key in event.keys() & SECRET_KEYS:
        event[key] = "[redacted]"
    return event


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with every rendered line's secrets redacted (redaction.py)."""

    def format(self, record: logging.LogRecord) -> str:
        """The rendered line, secrets replaced by `[redacted]`."""
        return redact_text(super().format(record))


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    """Route stdlib and structlog records through one JSON (or console) renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # "order %s rejected" % (id,): a strategy's own lines may still use printf style.
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # skip all work for lines below the level
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = RedactingFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn logs each WebSocket handshake's query string (?token=...) on uvicorn.error.
    for name in ("uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        if not any(isinstance(f, SecretRedactingFilter) for f in uvicorn_logger.filters):
            uvicorn_logger.addFilter(SecretRedactingFilter())
    from backend.core.monitoring.access_log import configure_access_log

    configure_access_log(renderer)
    # Our middleware writes one access line per request; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
