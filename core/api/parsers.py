"""Request body parsers: strict JSON and form-encoded bodies, as the original took."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import parsers

from core.errors import MalformedJsonError, PayloadTooLargeError

MAX_DEPTH = 64


def read_body(stream: IO[bytes] | None, parser_context: Mapping[str, Any] | None) -> bytes:
    """The raw body, refusing more than DATA_UPLOAD_MAX_MEMORY_SIZE bytes with 413."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    request = (parser_context or {}).get("request")
    declared = request.META.get("CONTENT_LENGTH") if request is not None else None
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError()
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLargeError()
    return body


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> int | float:
    # Past a few hundred digits Python refuses int(); the value is out of every range anyway.
    return int(text) if len(text) <= 300 else float(text)


# orjson reads a body several times faster than json and, for every body it accepts, to the same
# value, except an integer beyond 64 bits, which it makes a float: a body with a run of 19 digits
# or more is read by json. Whatever orjson refuses is read by json too, which decides: it takes a
# few things orjson does not (1e400, an escaped lone surrogate) and words the refusals.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _fast_loads(body: bytes) -> tuple[bool, Any]:
    """(True, the value) when orjson reads `body` as json would; (False, None) to ask json."""
    if _LONG_NUMBER.search(body):
        return False, None
    try:
        return True, orjson.loads(body)
    except orjson.JSONDecodeError:
        return False, None


def loads(body: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, at most 64 levels deep; else MALFORMED_JSON."""
    if not body.strip():
        return {}
    read, value = _fast_loads(body)
    if not read:
        try:
            text = body.decode("utf-8")
            value = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedJsonError() from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise MalformedJsonError()
    return value


class JsonParser(parsers.BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return loads(read_body(stream, parser_context))


class FormParser(parsers.BaseParser):
    """`application/x-www-form-urlencoded`: strings, and `key[]=…` (repeatable) as arrays."""

    media_type = "application/x-www-form-urlencoded"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        from urllib.parse import parse_qsl

        body = read_body(stream, parser_context)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise MalformedJsonError() from None
        data: dict[str, Any] = {}
        for key, value in pairs:
            if key.endswith("[]"):
                data.setdefault(key[:-2], []).append(value)
            else:
                data[key] = value  # repeated keys: the last one wins
        return data
