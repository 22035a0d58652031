"""Use cases of the accounts app: registration, token rotation, staff creation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from accounts.errors import EmailTakenError, UserNotFoundError
from accounts.locks import user_lock
from accounts.models import ApiToken, Role, User
from accounts.selectors import user_filter_by_email, user_get_by_email
from accounts.tokens import token_generate, token_hash
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction

EMAIL_CONSTRAINTS = {"users_email_unique_ci": EmailTakenError}


@dataclass(frozen=True)
class IssuedToken:
    """A token in clear, which exists only in this response, and its row."""

    token: str
    api_token: ApiToken


def _token_replace(*, user: User) -> IssuedToken:
    """Inside atomic(): give `user` a new token; the old one stops working at commit."""
    token = token_generate()
    ApiToken.objects.filter(user=user).delete()
    api_token = ApiToken.objects.create(
        user=user, token_hash=token_hash(token), prefix=token[:8], created_at=now_ms()
    )
    return IssuedToken(token=token, api_token=api_token)


def user_register(
    *, email: str, name: str, roles: Sequence[str] = (Role.GUEST,), timezone: str = "UTC"
) -> tuple[User, IssuedToken]:
    """Create a user and their first API token in one transaction.

    Raises EmailTakenError when the email exists in any case; a concurrent registration loses to
    the unique index on lower(email) and gets the same error.
    """

    def work() -> tuple[User, IssuedToken]:
        if user_filter_by_email(email=email).exists():
            raise EmailTakenError()
        user = User.objects.create_user(
            email=email, name=name, roles=list(dict.fromkeys(roles)), timezone=timezone
        )
        return user, _token_replace(user=user)

    return in_service_transaction(work, constraint_errors=EMAIL_CONSTRAINTS)


def api_token_rotate(*, user_id: UUID) -> IssuedToken:
    """Replace the user's API token (creating one if none); the old one is invalid at once.

    Locks the user row, so two rotations cannot both believe they issued the live token.
    Raises UserNotFoundError.
    """

    def work() -> IssuedToken:
        return _token_replace(user=user_lock(user_id=user_id))

    return in_service_transaction(work)


def staff_create(
    *, email: str, name: str, superuser: bool = False, password: str | None = None
) -> tuple[User, IssuedToken]:
    """Create a staff user, or make the existing user with this email staff; issue a token.

    Staff are never created through the API: only this service, createsuperuser
    and a superuser in the admin make them.
    """

    def work() -> tuple[User, IssuedToken]:
        try:
            found = user_get_by_email(email=email)
        except UserNotFoundError:
            user = User.objects.create_user(email=email, name=name, roles=[Role.GUEST])
        else:
            user = user_lock(user_id=found.pk)
        user.is_staff = True
        user.is_superuser = user.is_superuser or superuser
        if password:
            user.set_password(password)
        user.save()
        return user, _token_replace(user=user)

    return in_service_transaction(work, constraint_errors=EMAIL_CONSTRAINTS)


def user_update(
    *,
    user_id: UUID,
    email: str | None = None,
    name: str | None = None,
    roles: Sequence[str] | None = None,
    timezone: str | None = None,
    is_staff: bool | None = None,
    is_active: bool | None = None,
) -> User:
    """Change a user's profile or flags (the admin's edit form and Deactivate action).

    Arguments left as None stay unchanged; the caller validated them like POST /api/users.
    Locks the user row. Raises UserNotFoundError, EmailTakenError.
    """

    def work() -> User:
        user = user_lock(user_id=user_id)
        if email is not None and email != user.email:
            if user_filter_by_email(email=email).exclude(pk=user.pk).exists():
                raise EmailTakenError()
            user.email = email
        if name is not None:
            user.name = name
        if roles is not None:
            user.roles = list(dict.fromkeys(roles))
        if timezone is not None:
            user.timezone = timezone
        if is_staff is not None:
            user.is_staff = is_staff
        if is_active is not None:
            user.is_active = is_active
        user.save()
        return user

    return in_service_transaction(work, constraint_errors=EMAIL_CONSTRAINTS)
