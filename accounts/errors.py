"""Reasons of authentication and of the user endpoints."""

from core.errors import (
    ConflictError,
    InvalidTokenError,
    MalformedAuthorizationError,
    MissingCredentialsError,
    NotFoundError,
    UnknownUserError,
    UserIdHeaderDisabledError,
    UserInactiveError,
)

# The authentication reasons live in core.errors, where the OpenAPI helpers document them on every
# operation; they are re-exported here for the code that authenticates.
__all__ = (
    "EmailTakenError",
    "InvalidTokenError",
    "MalformedAuthorizationError",
    "MissingCredentialsError",
    "UnknownUserError",
    "UserIdHeaderDisabledError",
    "UserInactiveError",
    "UserNotFoundError",
)


class UserNotFoundError(NotFoundError):
    reason = "USER_NOT_FOUND"
    default_message = "User not found"


class EmailTakenError(ConflictError):
    reason = "EMAIL_TAKEN"
    default_message = "A user with this email already exists"
