"""What every API view shares: the method check, pagination and the success envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model, QuerySet
from django.urls import re_path
from django.urls.resolvers import URLPattern
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import ReturnDict

from core.api.fields import QueryIntegerField
from core.errors import MethodNotAllowedError

MAX_PAGE = 1_000_000
MAX_LIMIT = 100


# A viewset whose wrong methods get 405 before authentication. (A comment, not a docstring:
# drf-spectacular would publish a docstring as the description of every operation.)
class ApiViewSet(viewsets.ViewSet):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = (request.method or "").lower()
        if method != "options" and not hasattr(self, method):
            raise MethodNotAllowedError()
        super().initial(request, *args, **kwargs)


# Public endpoints ignore credentials entirely.
class PublicApiViewSet(ApiViewSet):
    authentication_classes = ()


def api_route(pattern: str, view: Any, name: str) -> URLPattern:
    """`/api/<pattern>` with and without a trailing slash, never redirected."""
    return re_path(rf"^api/{pattern}/?$", view, name=name)


class PageQuery(serializers.Serializer):
    page = QueryIntegerField(min_value=1, max_value=MAX_PAGE, required=False, default=1)
    limit = QueryIntegerField(min_value=1, max_value=MAX_LIMIT, required=False, default=20)


def paginate(items: QuerySet[Any], *, page: int, limit: int) -> tuple[list[Any], dict[str, int]]:
    """One page of a totally ordered query, and its meta {page, limit, total}."""
    offset = (page - 1) * limit
    rows = list(items[offset : offset + limit])
    # The last page tells the total: spare the COUNT(*).
    total = offset + len(rows) if rows and len(rows) < limit else items.order_by().count()
    return rows, {"page": page, "limit": limit, "total": total}


def ok(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response({"success": True, "data": data}, status=status, headers=headers)


def listed(data: Sequence[Any] | ReturnDict[Any, Any], meta: dict[str, int]) -> Response:
    # `Serializer(rows, many=True).data` is a ReturnList at run time, but the stubs type a
    # `many=True` serializer as the Serializer itself, whose `.data` is a ReturnDict.
    return Response({"success": True, "data": data, "meta": meta})


def output(serializer_class: type[serializers.Serializer], instance: Model | Any) -> Any:
    return serializer_class(instance).data
