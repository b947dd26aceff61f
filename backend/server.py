"""The uvicorn settings RedFire is served with, decided by AppConfig (see `redfire serve`)."""

from __future__ import annotations

from typing import Any

from backend.core.config import AppConfig


def uvicorn_options(config: AppConfig) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that the settings decide.

    `ws_max_size` bounds a WebSocket frame before uvicorn reads it: uvicorn's default (16 MiB)
    would let one unauthenticated client hold 16 MiB per connection.
    """
    trusted = ",".join(config.security.trusted_proxies) or "127.0.0.1"
    return {
        "proxy_headers": bool(config.security.trusted_proxies),
        "forwarded_allow_ips": trusted,
        "ws_max_size": config.stream.ws_max_message_bytes,
        # Logging is configure_logging's (JSON, secrets redacted); the access line is ours.
        "log_config": None,
        "access_log": False,
    }
