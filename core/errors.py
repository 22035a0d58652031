"""DomainError, the one base of every error a client sees, and the project-wide reasons.

Each reason a client can branch on is one class. Apps subclass the generic kind of their status
and set `reason`; one exception handler renders every class into the same envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure the client is meant to see. Raise it anywhere; the API renders it."""

    http_status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"  # generic: many reasons share it
    reason: ClassVar[str] = "BAD_REQUEST"  # specific and stable: clients branch on it
    default_message: ClassVar[str] = "The request could not be processed."
    retry_after: ClassVar[int | None] = None  # seconds; sent as Retry-After
    headers: dict[str, str] = {}  # extra response headers of this error (Idempotency-Key)
    # True when the outcome is still open (the request goes on elsewhere): an idempotency claim
    # is then kept for the client's retry, neither recorded nor released.
    keeps_idempotency_claim: ClassVar[bool] = False
    by_reason: ClassVar[dict[str, type[DomainError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "reason" in cls.__dict__:
            # One class per reason; a second class claiming a reason is a programming error.
            existing = DomainError.by_reason.get(cls.reason)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise TypeError(f"{cls.__name__} repeats reason {cls.reason} of {existing}")
            DomainError.by_reason[cls.reason] = cls

    def __init__(self, message: str | None = None, *, details: Any = None, **params: Any) -> None:
        # `params` fill the placeholders of the default message: {n}, {d}.
        self.message = message or self.default_message.format(**params)
        self.details = details
        super().__init__(self.message)

    def as_payload(self) -> dict[str, Any]:
        """The envelope's `error` object; also what a Celery task returns instead of raising."""
        extra = {} if self.details is None else {"details": self.details}
        return {"code": self.code, "reason": self.reason, "message": self.message, **extra}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> DomainError:
        """The same error again, from `as_payload()` output (worker replies, stored outcomes)."""
        error_class = DomainError.by_reason.get(payload["reason"], InternalError)
        return error_class(payload.get("message"), details=payload.get("details"))


# One generic kind per status; they set no `reason`, so they claim none.
class BadRequestError(DomainError):
    http_status, code = 400, "BAD_REQUEST"


class ValidationError(DomainError):
    http_status, code = 400, "VALIDATION_ERROR"


class UnauthorizedError(DomainError):
    http_status, code = 401, "UNAUTHORIZED"


class ForbiddenError(DomainError):
    http_status, code = 403, "FORBIDDEN"


class NotFoundError(DomainError):
    http_status, code = 404, "NOT_FOUND"


class ConflictError(DomainError):
    http_status, code = 409, "CONFLICT"


class ServiceUnavailableError(DomainError):
    http_status, code = 503, "SERVICE_UNAVAILABLE"
    retry_after = 5


# Input -------------------------------------------------------------------------------------------
class MalformedJsonError(ValidationError):
    reason = "MALFORMED_JSON"
    default_message = "Malformed JSON in request body"


class ValidationFailedError(ValidationError):
    """`details` is the list of {"path", "message"} of the error envelope."""

    reason = "VALIDATION_FAILED"
    default_message = "Validation failed"


class PayloadTooLargeError(DomainError):
    http_status, code, reason = 413, "PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE"
    default_message = "Request body is too large"


class UriTooLongError(DomainError):
    """The request line is longer than the server reads (the web server's own limit)."""

    http_status, code, reason = 414, "URI_TOO_LONG", "URI_TOO_LONG"
    default_message = "The request URI is too long"


class HeadersTooLargeError(DomainError):
    """Too many header fields, or one too long (the web server's own limits)."""

    http_status, code = 431, "REQUEST_HEADER_FIELDS_TOO_LARGE"
    reason = "REQUEST_HEADER_FIELDS_TOO_LARGE"
    default_message = "The request header fields are too large"


class MalformedRequestError(BadRequestError):
    """Not an HTTP request the server can parse (bad request line, header or framing)."""

    reason = "MALFORMED_REQUEST"
    default_message = "The request is not valid HTTP"


class CsrfFailedError(ForbiddenError):
    """An admin form posted without its CSRF token (the API itself never needs one)."""

    reason = "CSRF_FAILED"
    default_message = "The form's CSRF check failed; reload the page and try again"


class UnsupportedMediaTypeError(DomainError):
    http_status, code, reason = 415, "UNSUPPORTED_MEDIA_TYPE", "UNSUPPORTED_MEDIA_TYPE"
    default_message = "Unsupported media type; send application/json"


# Routing -----------------------------------------------------------------------------------------
class EndpointNotFoundError(NotFoundError):
    reason = "ENDPOINT_NOT_FOUND"
    default_message = "The requested endpoint does not exist"


class MethodNotAllowedError(DomainError):
    http_status, code, reason = 405, "METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed"


# Access ------------------------------------------------------------------------------------------
class NotStaffError(ForbiddenError):
    reason = "NOT_STAFF"
    default_message = "Staff access required"


class StaffTokenRequiredError(ForbiddenError):
    reason = "STAFF_TOKEN_REQUIRED"
    default_message = "Staff access requires an API token"


class NotOwnerError(ForbiddenError):
    """Raised with the endpoint's own sentence: delete slots, view or cancel bookings."""

    reason = "NOT_OWNER"
    default_message = "You can only access your own resources"


class NotAHostError(ForbiddenError):
    reason = "NOT_A_HOST"
    default_message = "Only hosts can create slots"


# Data and infrastructure -------------------------------------------------------------------------
class ConstraintViolationError(ConflictError):
    reason = "CONSTRAINT_VIOLATION"
    default_message = "The request conflicts with the current state of the data"


class InternalError(DomainError):
    http_status, code, reason = 500, "INTERNAL_ERROR", "INTERNAL_ERROR"
    default_message = "An unexpected error occurred"


class LockTimeoutError(ServiceUnavailableError):
    reason = "LOCK_TIMEOUT"
    default_message = "The server is busy, please try again"
    retry_after = 1


class DatabaseUnavailableError(ServiceUnavailableError):
    reason = "DATABASE_UNAVAILABLE"
    default_message = "The database is unavailable, please try again later"


class QueryTimeoutError(ServiceUnavailableError):
    reason = "QUERY_TIMEOUT"
    default_message = "The query took too long; narrow the date range"


class UnprocessableEntityError(DomainError):
    http_status, code = 422, "UNPROCESSABLE_ENTITY"


# Idempotency --------------------------------------------------------------------------------------
class InvalidIdempotencyKeyError(ValidationError):
    reason = "INVALID_IDEMPOTENCY_KEY"
    default_message = "Idempotency-Key must be 1 to 255 printable ASCII characters"


class IdempotencyKeyReusedError(UnprocessableEntityError):
    reason = "IDEMPOTENCY_KEY_REUSED"
    default_message = "Idempotency-Key was already used for a different request"


class IdempotencyKeyInProgressError(ConflictError):
    reason = "IDEMPOTENCY_KEY_IN_PROGRESS"
    default_message = "A request with this Idempotency-Key is still in progress"
    retry_after = 1


class UnhealthyError(ServiceUnavailableError):
    reason = "UNHEALTHY"
    default_message = "Service is unhealthy"


# Authentication: every authenticated operation can answer with these.
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


# Rate limiting -----------------------------------------------------------------------------------
class RateLimitedError(DomainError):
    """`n` is the seconds until the caller's window ends; it is sent as Retry-After too."""

    http_status, code, reason = 429, "RATE_LIMIT_EXCEEDED", "RATE_LIMITED"
    default_message = "Too many requests. Please try again in {n} seconds."

    def __init__(self, message: str | None = None, *, details: Any = None, **params: Any) -> None:
        super().__init__(message, details=details, **params)
        self.headers = {"Retry-After": str(params["n"])} if "n" in params else {}
