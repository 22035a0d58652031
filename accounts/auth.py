"""Who is calling: API token first, then the x-user-id header, and staff checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
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


def _authenticate_token(header: str) -> User:
    digest = token_hash(_bearer_token(header))
    api_token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if api_token is None:
        raise InvalidTokenError()
    if not api_token.user.is_active:
        raise UserInactiveError()
    now = now_ms()
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        # At most one write a minute per token: a hot token must not turn reads into writes.
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    return api_token.user


def _authenticate_user_id(value: str) -> User:
    if not settings.AUTH_ALLOW_USER_ID_HEADER:
        raise UserIdHeaderDisabledError()
    user_id = parse_uuid(value)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        raise UnknownUserError()
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
