"""GET /api/health: the database, plus whatever the apps register (the broker in queued mode)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError, connection, transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.exception_handler import error_body, error_headers
from core.api.schema import errors
from core.api.viewsets import PublicApiViewSet, ok
from core.db.instants import format_instant, now_ms
from core.errors import UnhealthyError

PROBE_TIMEOUT_SECONDS = 2


def database_probe() -> str:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_SECONDS * 1000}")
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "error"
    return "ok"


# name -> probe returning "ok" or "error", or None when the check does not apply right now. Apps
# register theirs in AppConfig.ready(); the checks appear in registration order after "database".
PROBES: dict[str, Callable[[], str | None]] = {}


def register_probe(name: str, probe: Callable[[], str | None]) -> None:
    PROBES[name] = probe


class HealthViewSet(PublicApiViewSet):
    @extend_schema(
        summary="Probes the database (and Redis in queued mode)",
        description="200 when every dependency answers; 503 UNHEALTHY with the failed checks.",
        auth=[],  # public: credentials are ignored
        responses={
            200: inline_serializer(
                "HealthEnvelope",
                {"success": serializers.BooleanField(), "data": serializers.DictField()},
            ),
            **errors(UnhealthyError, auth=False),
        },
    )
    def retrieve(self, request: Request) -> Response:
        checks = {"database": database_probe()}
        for name, probe in PROBES.items():
            result = probe()
            if result is not None:
                checks[name] = result
        if any(result != "ok" for result in checks.values()):
            error = UnhealthyError(details={"checks": checks})
            return Response(error_body(error), status=503, headers=error_headers(error))
        return ok({"status": "healthy", "timestamp": format_instant(now_ms()), "checks": checks})
