"""Assertions on the response envelopes of SPEC §1.2-§1.4, shared by the API test modules."""

from __future__ import annotations

import re
from typing import Any

JSON = "application/json; charset=utf-8"
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def assert_error(
    response: Any, status: int, code: str, reason: str, message: str, details: Any = None
) -> None:
    """The exact error envelope: status, JSON content type, code, reason, message, details."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    error = {"code": code, "reason": reason, "message": message}
    if details is not None:
        error["details"] = details
    assert response.json() == {"success": False, "error": error}


def assert_invalid(response: Any, details: list[dict[str, str]]) -> None:
    """400 VALIDATION_FAILED with exactly these {path, message} details, in this order."""
    assert_error(
        response, 400, "VALIDATION_ERROR", "VALIDATION_FAILED", "Validation failed", details
    )
