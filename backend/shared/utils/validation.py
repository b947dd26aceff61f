"""Input validators for e-mail addresses and mainland-China mobile numbers."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError
from email_validator import validate_email as _validate_email

_SEPARATORS = re.compile(r"[\s-]")
_CN_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")


def validate_email(email: str) -> tuple[bool, str | None]:
    """(True, None) for a syntactically valid address, else (False, reason); no DNS lookup."""
    try:
        _validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return False, str(exc)
    return True, None


def validate_phone(phone: str) -> bool:
    """True for a mainland-China mobile: 11 digits from 13x-19x, optional +86, spaces/dashes ok."""
    return bool(_CN_MOBILE.match(_SEPARATORS.sub("", phone)))
