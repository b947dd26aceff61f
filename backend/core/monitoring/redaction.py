"""Secrets out of log text: query-string tokens, credential headers and anything shaped like a JWT.

uvicorn logs each WebSocket handshake with its path and query string (`"WebSocket
/api/v1/ws?token=eyJ..." [accepted]`), and an exception may carry a URL or a request's headers:
every line is redacted as text, whoever wrote it.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# ?token=..., &access_token=..., &api_key=..., &password=... up to the next separator.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:[\w.-]*(?:token|key|secret|password|passwd|signature)|auth)=)"
    r"(?!\[redacted\])[^&;#\s\"'\\]+"
)
# Authorization: Bearer ..., "x-api-key": "...", (b'authorization', b'Bearer ...')
_HEADER_SECRET = re.compile(
    r"(?i)((?:proxy-)?authorization|x-api-key|api-key|cookie)([\"']?\s*[:=,]\s*(?:b?[\"'])?)"
    r"((?:bearer|basic|token)\s+)?+(?!\[redacted\])[^\s\"'\\,;)\]}]+"
)
# "token": "...", refresh_token=..., password: ...
_KEY_SECRET = re.compile(
    r"(?i)((?:access_|refresh_)?token|password|secret(?:_key)?)([\"']?\s*[:=]\s*[\"']?)"
    r"(?!\[redacted\])[^\s\"'\\,;&)\]}]+"
)
# A JWT's header and payload are base64url JSON objects: both start with "eyJ" ('{"').
_JWT = re.compile(r"eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*")


# Every pattern above needs one of these: a text without any shows no secret.
_SIGNS = ("=", ":", ",", "eyJ")


def redact_text(text: str) -> str:
    """`text` with every secret it shows replaced by `[redacted]`."""
    text = _JWT.sub(REDACTED, text)
    text = _QUERY_SECRET.sub(rf"\1{REDACTED}", text)
    text = _HEADER_SECRET.sub(rf"\1\2\3{REDACTED}", text)
    return _KEY_SECRET.sub(rf"\1\2{REDACTED}", text)


def redact_short(text: str) -> str:
    """redact_text for a short text that rarely holds a secret (a request's path): the
    patterns only run when it shows a sign one needs (a fraction of a microsecond, not 6)."""
    return redact_text(text) if any(sign in text for sign in _SIGNS) else text


class SecretRedactingFilter(logging.Filter):
    """Rewrites a stdlib record's message with its secrets redacted, whatever handler runs.

    Attached to uvicorn's loggers, so an operator's own `--log-config` handlers get clean
    lines too. Records from structlog carry a dict and are redacted when rendered.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; redacts its message first."""
        if isinstance(record.msg, str):
            message = record.getMessage()
            redacted = redact_text(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True
