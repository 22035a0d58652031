"""Who is calling: API token first, then the x-user-id header, and staff checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.errors import (
    InvalidTokenError,
    MalformedAuthorizationError,
    MissingCredentialsError,
    UnknownUserError,
    UserIdHeaderDisabledError,
    UserInactiveError,
)
from accounts.models import ApiToken, User
from accounts.tokens import token_hash
from core.api.fields import parse_uuid
from core.db.instants import now_ms
from core.errors import NotStaffError, StaffTokenRequiredError

TOKEN = "token"  # noqa: S105  # the name of an auth method (request.auth), not a secret
USER_ID_HEADER = "x-user-id"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _bearer_token(header: str) -> str:
    scheme, space, token = header.partition(" ")
    if scheme.lower() != "bearer" or not space or not token or " " in token:
        raise MalformedAuthorizationError()
    return token


# The caller in one indexed query (users' primary key, api_tokens' unique token_hash), written
# as SQL: building the same query through the ORM cost several times the query's own time on
# every request (bench/profile_reads.py). The columns no API request reads, the password hash
# and the admin's last login, are left out: they are deferred on the User, as with only().
UNREAD_USER_FIELDS = frozenset({"password", "last_login"})


@cache
def _user_columns() -> tuple[str, tuple[str, ...]]:
    """The select list of the user columns read, from `users u`, and their attribute names."""
    fields = [f for f in User._meta.concrete_fields if f.attname not in UNREAD_USER_FIELDS]
    quote = connection.ops.quote_name
    return ", ".join(f"u.{quote(f.column)}" for f in fields), tuple(f.attname for f in fields)


def _user(row: Sequence[Any]) -> User:
    return User.from_db(connection.alias, _user_columns()[1], row)


def _authenticate_token(header: str) -> User:
    digest = token_hash(_bearer_token(header))
    columns, _ = _user_columns()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.last_used_at, {columns} FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = %s",
            [digest],
        )
        row = cursor.fetchone()
    if row is None:
        raise InvalidTokenError()
    token_id, last_used_at, user = row[0], row[1], _user(row[2:])
    if not user.is_active:
        raise UserInactiveError()
    now = now_ms()
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per token: a hot token must not turn reads into writes.
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return user


def _authenticate_user_id(value: str) -> User:
    if not settings.AUTH_ALLOW_USER_ID_HEADER:
        raise UserIdHeaderDisabledError()
    user_id = parse_uuid(value)
    row = None
    if user_id is not None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_user_columns()[0]} FROM users u WHERE u.id = %s", [user_id])
            row = cursor.fetchone()
    if row is None:
        raise UnknownUserError()
    user = _user(row)
    if not user.is_active:
        raise UserInactiveError()
    return user


class ApiAuthentication(BaseAuthentication):
    """Resolves the caller or raises its 401; `request.auth` says how."""

    def authenticate(self, request: Request) -> tuple[User, str]:
        authorization = request.META.get("HTTP_AUTHORIZATION", "")
        user_id = request.META.get("HTTP_X_USER_ID", "")
        if authorization:
            user, method = _authenticate_token(authorization), TOKEN
        elif user_id:
            user, method = _authenticate_user_id(user_id), USER_ID_HEADER
        elif settings.AUTH_ALLOW_USER_ID_HEADER:
            raise MissingCredentialsError()
        else:
            raise MissingCredentialsError("Missing bearer token")
        request._request.api_user_id = user.pk  # type: ignore[attr-defined]  # for the log
        return user, method

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="slot-booking"'


def request_user(request: Request) -> User:
    """The authenticated caller, typed."""
    user = request.user
    assert isinstance(user, User)  # noqa: S101  # ApiAuthentication raised otherwise
    return user


def has_staff_privileges(request: Request) -> bool:
    """Staff, and authenticated in a way that counts for staff."""
    user = request.user
    if not isinstance(user, User) or not user.is_staff:
        return False
    return request.auth == TOKEN or not settings.AUTH_STAFF_REQUIRES_TOKEN


def require_staff(request: Request) -> None:
    """403 NOT_STAFF, then 403 STAFF_TOKEN_REQUIRED, before any validation."""
    if not request_user(request).is_staff:
        raise NotStaffError()
    if not has_staff_privileges(request):
        raise StaffTokenRequiredError()


class IsStaff(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        require_staff(request)
        return True
