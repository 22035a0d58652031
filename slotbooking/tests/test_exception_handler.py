"""Every DomainError through the one handler, compared with the catalogue of SPEC §5."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions

import accounts.errors
import bookings.errors
import slots.errors  # noqa: F401  # registers the app reasons in DomainError.by_reason
from core.api.exception_handler import exception_handler
from core.errors import DomainError

pytestmark = pytest.mark.django_db

# (reason, HTTP status, code, message, Retry-After) as SPEC §5 lists them; {n} rendered with 5.
M1 = [
    ("MALFORMED_JSON", 400, "VALIDATION_ERROR", "Malformed JSON in request body", None),
    ("VALIDATION_FAILED", 400, "VALIDATION_ERROR", "Validation failed", None),
    (
        "CANCELLATION_WINDOW_CLOSED",
        400,
        "BAD_REQUEST",
        "Cancellation is only allowed at least 5 hour(s) before the slot start time",
        None,
    ),
    ("SLOT_IN_PAST", 400, "BAD_REQUEST", "Cannot book a slot in the past", None),
    ("BOOKING_OWN_SLOT", 400, "BAD_REQUEST", "You cannot book your own slot", None),
    ("MISSING_CREDENTIALS", 401, "UNAUTHORIZED", "Missing x-user-id header", None),
    ("UNKNOWN_USER", 401, "UNAUTHORIZED", "User not found", None),
    (
        "MALFORMED_AUTHORIZATION",
        401,
        "UNAUTHORIZED",
        "Authorization header must be 'Bearer <token>'",
        None,
    ),
    ("INVALID_TOKEN", 401, "UNAUTHORIZED", "Invalid API token", None),
    ("USER_INACTIVE", 401, "UNAUTHORIZED", "User account is disabled", None),
    (
        "USER_ID_HEADER_DISABLED",
        401,
        "UNAUTHORIZED",
        "The x-user-id header is not accepted by this server; use an API token",
        None,
    ),
    ("NOT_STAFF", 403, "FORBIDDEN", "Staff access required", None),
    ("STAFF_TOKEN_REQUIRED", 403, "FORBIDDEN", "Staff access requires an API token", None),
    ("NOT_A_HOST", 403, "FORBIDDEN", "Only hosts can create slots", None),
    ("ENDPOINT_NOT_FOUND", 404, "NOT_FOUND", "The requested endpoint does not exist", None),
    ("USER_NOT_FOUND", 404, "NOT_FOUND", "User not found", None),
    ("SLOT_NOT_FOUND", 404, "NOT_FOUND", "Slot not found", None),
    ("BOOKING_NOT_FOUND", 404, "NOT_FOUND", "Booking not found", None),
    ("METHOD_NOT_ALLOWED", 405, "METHOD_NOT_ALLOWED", "Method not allowed", None),
    ("EMAIL_TAKEN", 409, "CONFLICT", "A user with this email already exists", None),
    ("SLOT_OVERLAP", 409, "CONFLICT", "Slot overlaps with an existing slot", None),
    ("SLOT_HAS_BOOKING", 409, "CONFLICT", "Cannot delete a booked slot", None),
    ("SLOT_NOT_AVAILABLE", 409, "CONFLICT", "Slot is no longer available", None),
    (
        "MAX_ACTIVE_BOOKINGS",
        409,
        "CONFLICT",
        "You have reached the maximum of 5 active bookings",
        None,
    ),
    (
        "HOST_ALREADY_BOOKED",
        409,
        "CONFLICT",
        "You already have an active booking with this host",
        None,
    ),
    ("BOOKING_ALREADY_CANCELLED", 409, "CONFLICT", "Booking is already cancelled", None),
    (
        "CONSTRAINT_VIOLATION",
        409,
        "CONFLICT",
        "The request conflicts with the current state of the data",
        None,
    ),
    ("PAYLOAD_TOO_LARGE", 413, "PAYLOAD_TOO_LARGE", "Request body is too large", None),
    (
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Unsupported media type; send application/json",
        None,
    ),
    ("INTERNAL_ERROR", 500, "INTERNAL_ERROR", "An unexpected error occurred", None),
    ("LOCK_TIMEOUT", 503, "SERVICE_UNAVAILABLE", "The server is busy, please try again", "1"),
    (
        "DATABASE_UNAVAILABLE",
        503,
        "SERVICE_UNAVAILABLE",
        "The database is unavailable, please try again later",
        "5",
    ),
    (
        "QUERY_TIMEOUT",
        503,
        "SERVICE_UNAVAILABLE",
        "The query took too long; narrow the date range",
        "5",
    ),
    ("UNHEALTHY", 503, "SERVICE_UNAVAILABLE", "Service is unhealthy", "5"),
]
M2 = [
    (
        "INVALID_IDEMPOTENCY_KEY",
        400,
        "VALIDATION_ERROR",
        "Idempotency-Key must be 1 to 255 printable ASCII characters",
        None,
    ),
    (
        "IDEMPOTENCY_KEY_REUSED",
        422,
        "UNPROCESSABLE_ENTITY",
        "Idempotency-Key was already used for a different request",
        None,
    ),
    (
        "IDEMPOTENCY_KEY_IN_PROGRESS",
        409,
        "CONFLICT",
        "A request with this Idempotency-Key is still in progress",
        "1",
    ),
    (
        "QUEUE_UNAVAILABLE",
        503,
        "SERVICE_UNAVAILABLE",
        "The booking queue is unavailable, please try again later",
        "5",
    ),
    (
        "QUEUE_TIMEOUT",
        503,
        "SERVICE_UNAVAILABLE",
        "The booking is still being processed; retry with the same Idempotency-Key to get the "
        "result",
        "1",
    ),
]
# Seats and host policies (SPEC §12.1, §12.2); {d} rendered as "5 hour(s)", {n} with 5.
M4 = [
    (
        "BOOKING_NOTICE_TOO_SHORT",
        400,
        "BAD_REQUEST",
        "This host requires bookings at least 5 hour(s) in advance",
        None,
    ),
    (
        "BOOKING_BEYOND_HORIZON",
        400,
        "BAD_REQUEST",
        "This host accepts bookings at most 5 day(s) in advance",
        None,
    ),
    ("ALREADY_BOOKED", 409, "CONFLICT", "You already have a booking for this slot", None),
    (
        "RATE_LIMITED",
        429,
        "RATE_LIMIT_EXCEEDED",
        "Too many requests. Please try again in 5 seconds.",
        "5",
    ),
]
# Answers about the request itself rather than any endpoint: oversized request lines and
# headers, unparsable HTTP, an admin form's failed CSRF check. They extend the catalogue.
TRANSPORT = [
    ("URI_TOO_LONG", 414, "URI_TOO_LONG", "The request URI is too long", None),
    (
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "The request header fields are too large",
        None,
    ),
    ("MALFORMED_REQUEST", 400, "BAD_REQUEST", "The request is not valid HTTP", None),
    (
        "CSRF_FAILED",
        403,
        "FORBIDDEN",
        "The form's CSRF check failed; reload the page and try again",
        None,
    ),
]
# M4: webhooks and calendars.
M4_WEBHOOKS_CALENDARS = [
    ("WEBHOOK_NOT_FOUND", 404, "NOT_FOUND", "Webhook not found", None),
    ("CALENDAR_NOT_FOUND", 404, "NOT_FOUND", "Calendar not found", None),
    ("WEBHOOK_LIMIT_REACHED", 409, "CONFLICT", "You can register at most 5 webhooks", None),
    # Holds, reschedule and the waitlist (SPEC §12.3-12.5).
    ("HOLD_NOT_FOUND", 404, "NOT_FOUND", "Hold not found", None),
    ("HOLD_SLOT_MISMATCH", 400, "BAD_REQUEST", "Hold is for a different slot", None),
    ("HOLD_EXPIRED", 409, "CONFLICT", "Hold has expired", None),
    ("HOLD_EXISTS", 409, "CONFLICT", "You already hold a place on this slot", None),
    ("HOLD_NOT_ACTIVE", 409, "CONFLICT", "Hold is no longer active", None),
    ("RESCHEDULE_SAME_SLOT", 400, "BAD_REQUEST", "The booking is already for this slot", None),
    (
        "RESCHEDULE_WINDOW_CLOSED",
        400,
        "BAD_REQUEST",
        "Rescheduling is only allowed at least 5 hour(s) before the slot start time",
        None,
    ),
    ("SLOT_NOT_FULL", 409, "CONFLICT", "Slot has free places; book it instead", None),
    ("ALREADY_ON_WAITLIST", 409, "CONFLICT", "You are already on the waitlist for this slot", None),
    (
        "WAITLIST_ENTRY_NOT_FOUND",
        404,
        "NOT_FOUND",
        "You are not on the waitlist for this slot",
        None,
    ),
]
# NOT_OWNER has one sentence per endpoint; the class is raised with the endpoint's own.
NOT_OWNER_MESSAGES = [
    "You can only delete your own slots",
    "You can only view your own bookings",
    "You can only cancel your own bookings",
    "You can only reschedule your own bookings",
]


def _import_m2_errors() -> None:
    # M2 classes live with the code that raises them, when that code exists yet.
    import importlib

    for module in (
        "core.idempotency.records",
        "bookings.dispatch",
        "bookings.errors",
        "webhooks.errors",
        "calendars.errors",
    ):
        try:
            importlib.import_module(module)
        except ImportError:
            continue


_import_m2_errors()
CATALOGUE = (
    M1
    + [row for row in M2 if row[0] in DomainError.by_reason]
    + M4
    + TRANSPORT
    + M4_WEBHOOKS_CALENDARS
)


def handle(exc: Exception):
    return exception_handler(exc, {})


def test_every_m1_reason_of_the_catalogue_has_its_class():
    missing = {row[0] for row in M1} - set(DomainError.by_reason)

    assert missing == set()
    assert "NOT_OWNER" in DomainError.by_reason


def test_no_class_claims_a_reason_the_catalogue_does_not_list():
    listed = {row[0] for row in M1 + M2 + M4 + TRANSPORT + M4_WEBHOOKS_CALENDARS} | {"NOT_OWNER"}

    assert set(DomainError.by_reason) - listed == set()


@pytest.mark.parametrize(
    ("reason", "status", "code", "message", "retry_after"), CATALOGUE, ids=[r[0] for r in CATALOGUE]
)
def test_each_domain_error_renders_as_the_catalogue_says(
    reason, status, code, message, retry_after
):
    error_class = DomainError.by_reason[reason]
    params: dict[str, Any] = {"n": 5} if "{n}" in error_class.default_message else {}
    if "{d}" in error_class.default_message:
        params["d"] = "5 hour(s)"
    error = error_class(**params)

    response = handle(error)

    assert response.status_code == status
    assert response.data == {
        "success": False,
        "error": {"code": code, "reason": reason, "message": message},
    }
    assert response.headers.get("Retry-After") == retry_after
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="slot-booking"'
    else:
        assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("message", NOT_OWNER_MESSAGES)
def test_not_owner_renders_with_the_endpoints_sentence(message):
    response = handle(DomainError.by_reason["NOT_OWNER"](message))

    assert response.status_code == 403
    assert response.data["error"] == {
        "code": "FORBIDDEN",
        "reason": "NOT_OWNER",
        "message": message,
    }


def test_missing_credentials_has_its_second_sentence():
    error = accounts.errors.MissingCredentialsError("Missing bearer token")

    assert handle(error).data["error"]["message"] == "Missing bearer token"


def test_details_are_rendered_only_when_given():
    details = [{"path": "startTime", "message": "Invalid date"}]
    with_details = handle(DomainError.by_reason["VALIDATION_FAILED"](details=details))
    without = handle(bookings.errors.SlotInPastError())

    assert with_details.data["error"]["details"] == details
    assert "details" not in without.data["error"]


@pytest.mark.parametrize(
    ("exc", "status", "reason"),
    [
        (exceptions.MethodNotAllowed("PUT"), 405, "METHOD_NOT_ALLOWED"),
        (exceptions.UnsupportedMediaType("text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (exceptions.ParseError("bad"), 400, "MALFORMED_JSON"),
        (RequestDataTooBig("big"), 413, "PAYLOAD_TOO_LARGE"),
        (Http404("x"), 404, "ENDPOINT_NOT_FOUND"),
        (exceptions.NotFound("x"), 404, "ENDPOINT_NOT_FOUND"),
    ],
)
def test_framework_exceptions_become_their_domain_errors(exc, status, reason):
    response = handle(exc)

    assert response.status_code == status
    assert response.data["error"]["reason"] == reason


def test_a_drf_validation_error_becomes_validation_failed_with_flat_details():
    response = handle(
        # DRF accepts any mapping key (here a list index); its stub wants str keys only.
        exceptions.ValidationError({"roles": {1: ["Bad role"]}, "name": ["Too long"]})  # type: ignore[dict-item]
    )

    assert response.data["error"] == {
        "code": "VALIDATION_ERROR",
        "reason": "VALIDATION_FAILED",
        "message": "Validation failed",
        "details": [
            {"path": "roles.1", "message": "Bad role"},
            {"path": "name", "message": "Too long"},
        ],
    }


@pytest.mark.parametrize("debug", [False, True])
def test_a_defect_is_a_500_with_the_fixed_message_and_no_exception_text(settings, debug):
    settings.DEBUG = debug

    response = handle(RuntimeError("secret table users_password"))

    assert response.status_code == 500
    assert response.data == {
        "success": False,
        "error": {
            "code": "INTERNAL_ERROR",
            "reason": "INTERNAL_ERROR",
            "message": "An unexpected error occurred",
        },
    }
    assert "secret" not in str(response.data)


def test_from_payload_round_trips_every_class():
    for reason, error_class in DomainError.by_reason.items():
        error = error_class("some message", details={"k": "v"})
        again = DomainError.from_payload(error.as_payload())
        assert type(again) is error_class, reason
        assert again.as_payload() == error.as_payload()
