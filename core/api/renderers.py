"""JSON out, always: the API answers in JSON whatever the Accept header asks for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request


class JsonRenderer(JSONRenderer):
    charset = "utf-8"  # Content-Type: application/json; charset=utf-8
    ensure_ascii = False
    compact = True


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
