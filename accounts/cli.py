"""Command-line arguments that name a user."""

from __future__ import annotations

from uuid import UUID

from accounts.errors import UserNotFoundError
from accounts.models import User
from accounts.selectors import user_get, user_get_by_email
from core.api.fields import parse_uuid
from core.cli.kit import usage_error


def user_by_email_or_id(value: str) -> User:
    """The user named on the command line by email (any case) or id; a usage error if none."""
    uuid: UUID | None = parse_uuid(value)
    try:
        return user_get(user_id=uuid) if uuid else user_get_by_email(email=value)
    except UserNotFoundError:
        raise usage_error(f"no user with email or id {value!r}") from None
