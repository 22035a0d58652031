"""JSON out, always: the API answers in JSON whatever the Accept header asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.utils.encoders import JSONEncoder

# orjson writes what DRF's JSONRenderer (json.dumps, compact, ensure_ascii off, strict) writes,
# byte for byte, several times faster, with two exceptions handled here: a float that Python
# writes with an exponent (1e+16, 1e-05) comes out of orjson as 1e16 or 0.00001, and U+2028 /
# U+2029, which DRF escapes, come out raw. Anything orjson cannot write natively goes to DRF's
# encoder (dates, Decimals, lazy strings…), datetimes included, as DRF formats them.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_DRF_DEFAULT = JSONEncoder().default
# Every float orjson writes differently from Python has a digit before an exponent or starts
# with 0.0000; a match anywhere (a string that merely looks so included) renders through json.
_FLOAT_FORMS = re.compile(rb"[0-9][eE]|0\.0000")


class JsonRenderer(JSONRenderer):
    charset = "utf-8"  # Content-Type: application/json; charset=utf-8
    ensure_ascii = False
    compact = True

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if (renderer_context or {}).get("indent") or "indent" in (accepted_media_type or ""):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_DRF_DEFAULT, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:  # an int beyond 64 bits, a non-string key, a surrogate…
            body = None  # json.dumps writes it, or raises what it always raised
        if body is None or _FLOAT_FORMS.search(body):
            return super().render(data, accepted_media_type, renderer_context)
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


class FirstRendererNegotiation(BaseContentNegotiation):
    """No 406: an API client that sends `Accept: text/html` still gets its JSON envelope."""

    def select_parser(self, request: Request, parsers: Iterable[Any]) -> Any:
        from rest_framework.negotiation import DefaultContentNegotiation

        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))  # the view's first renderer (JsonRenderer)
        return renderer, renderer.media_type
