"""How a request that fails validation is answered: 400 `malformed_json` when the JSON body
does not parse, otherwise 422 `validation_error` listing each field's problem."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def validation_failure(errors: Sequence[Any]) -> tuple[int, str, Any]:
    """The status, error code and detail for FastAPI's validation `errors`."""
    malformed = next((error for error in errors if _is_malformed_body(error)), None)
    if malformed is not None:
        return 400, "malformed_json", _malformed_detail(malformed)
    return 422, "validation_error", [_field_error(error) for error in errors]


def _is_malformed_body(error: Mapping[str, Any]) -> bool:
    """The JSON body itself does not parse: FastAPI puts the character offset after "body".

    A form field that should hold JSON (a backtest's `parameters`) is a field error, 422.
    """
    location = tuple(error.get("loc") or ())
    return (
        error.get("type") == "json_invalid"
        and location[:1] == ("body",)
        and all(isinstance(part, int) for part in location[1:])
    )


def _malformed_detail(error: Mapping[str, Any]) -> str:
    reason = (error.get("ctx") or {}).get("error") or "JSON decode error"
    location = tuple(error.get("loc") or ())
    # A repeated key is reported at offset 0 (strict_json.py): no offset is better than a wrong one.
    where = f" (character {location[1]})" if len(location) > 1 and location[1] else ""
    return f"the body is not valid JSON: {reason}{where}"


def _field_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """type, loc and msg only (never the input); a JSON syntax error says what is wrong."""
    shown = {key: value for key, value in error.items() if key in ("type", "loc", "msg")}
    reason = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and reason:
        shown["msg"] = f"{error['msg']}: {reason}"
    return shown
