"""Reasons of authentication and of the user endpoints (SPEC §1.8, §3.2)."""

from slotbooking.errors import ConflictError, NotFoundError, UnauthorizedError


class MissingCredentialsError(UnauthorizedError):
    reason = "MISSING_CREDENTIALS"
    default_message = "Missing x-user-id header"


class UnknownUserError(UnauthorizedError):
    reason = "UNKNOWN_USER"
    default_message = "User not found"


class MalformedAuthorizationError(UnauthorizedError):
    reason = "MALFORMED_AUTHORIZATION"
    default_message = "Authorization header must be 'Bearer <token>'"


class InvalidTokenError(UnauthorizedError):
    reason = "INVALID_TOKEN"
    default_message = "Invalid API token"


class UserInactiveError(UnauthorizedError):
    reason = "USER_INACTIVE"
    default_message = "User account is disabled"


class UserIdHeaderDisabledError(UnauthorizedError):
    reason = "USER_ID_HEADER_DISABLED"
    default_message = "The x-user-id header is not accepted by this server; use an API token"


class UserNotFoundError(NotFoundError):
    reason = "USER_NOT_FOUND"
    default_message = "User not found"


class EmailTakenError(ConflictError):
    reason = "EMAIL_TAKEN"
    default_message = "A user with this email already exists"
