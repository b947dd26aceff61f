"""Small shared helpers."""

from backend.shared.utils.currency import format_currency
from backend.shared.utils.validation import validate_email, validate_phone

__all__ = ["format_currency", "validate_email", "validate_phone"]
