"""Reads of users."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet, Value
from django.db.models.functions import Lower

from accounts.errors import UserNotFoundError
from accounts.models import ApiToken, User
from accounts.tokens import token_hash


def user_get(*, user_id: UUID | None) -> User:
    """The user with this id. Raises UserNotFoundError (also for None, a non-uuid path)."""
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        raise UserNotFoundError()
    return user


def user_get_by_email(*, email: str) -> User:
    """The user with this email, compared case-insensitively. Raises UserNotFoundError."""
    user = user_filter_by_email(email=email).first()
    if user is None:
        raise UserNotFoundError()
    return user


def user_filter_by_email(*, email: str) -> QuerySet[User]:
    """Users whose email equals `email` ignoring case, as the unique index on lower(email) sees
    it: both sides are lowered by PostgreSQL, so the index is used and the rule is one."""
    return User.objects.annotate(email_ci=Lower("email")).filter(email_ci=Lower(Value(email)))


def user_list() -> QuerySet[User]:
    """Every user, newest first, `id` as tiebreak."""
    return User.objects.order_by("-created_at", "-id")


def api_token_is_current(*, user_id: UUID, token: str) -> bool:
    """Whether `token` is the user's API token now (it has not been rotated since)."""
    return ApiToken.objects.filter(user_id=user_id, token_hash=token_hash(token)).exists()
