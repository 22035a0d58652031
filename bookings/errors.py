"""Reasons of the booking endpoints."""

from __future__ import annotations

from typing import Any

from accounts.policies import duration_text
from core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
)


class BookingNotFoundError(NotFoundError):
    reason = "BOOKING_NOT_FOUND"
    default_message = "Booking not found"


class SlotInPastError(BadRequestError):
    reason = "SLOT_IN_PAST"
    default_message = "Cannot book a slot in the past"


class BookingOwnSlotError(BadRequestError):
    reason = "BOOKING_OWN_SLOT"
    default_message = "You cannot book your own slot"


class MaxActiveBookingsError(ConflictError):
    reason = "MAX_ACTIVE_BOOKINGS"
    default_message = "You have reached the maximum of {n} active bookings"


class HostAlreadyBookedError(ConflictError):
    reason = "HOST_ALREADY_BOOKED"
    default_message = "You already have an active booking with this host"


class HostBookingLimitError(HostAlreadyBookedError):
    """The same reason when the host allows more than one active booking per guest."""

    default_message = "You have reached the maximum of {n} active bookings with this host"


class AlreadyBookedError(ConflictError):
    reason = "ALREADY_BOOKED"
    default_message = "You already have a booking for this slot"


class BookingNoticeTooShortError(BadRequestError):
    reason = "BOOKING_NOTICE_TOO_SHORT"
    default_message = "This host requires bookings at least {d} in advance"


class BookingBeyondHorizonError(BadRequestError):
    reason = "BOOKING_BEYOND_HORIZON"
    default_message = "This host accepts bookings at most {n} day(s) in advance"


class BookingAlreadyCancelledError(ConflictError):
    reason = "BOOKING_ALREADY_CANCELLED"
    default_message = "Booking is already cancelled"


class CancellationWindowClosedError(BadRequestError):
    reason = "CANCELLATION_WINDOW_CLOSED"
    default_message = "Cancellation is only allowed at least {n} hour(s) before the slot start time"

    @classmethod
    def for_cutoff(cls, minutes: int) -> CancellationWindowClosedError:
        """The message for the host's cutoff: the default one hour reads as it always did."""
        if minutes == 0:
            return cls("Cancellation is not allowed after the slot has started")
        return cls(
            f"Cancellation is only allowed at least {duration_text(minutes)} "
            "before the slot start time"
        )


# Queued mode --------------------------------------------------------------------------------------
class QueueUnavailableError(ServiceUnavailableError):
    reason = "QUEUE_UNAVAILABLE"
    default_message = "The booking queue is unavailable, please try again later"


class QueueTimeoutError(ServiceUnavailableError):
    """The outcome is still open: the client retries with the key it is given."""

    reason = "QUEUE_TIMEOUT"
    default_message = (
        "The booking is still being processed; "
        "retry with the same Idempotency-Key to get the result"
    )
    retry_after = 1
    keeps_idempotency_claim = True

    def __init__(
        self, message: str | None = None, *, details: Any = None, key: str | None = None
    ) -> None:
        if key is not None:
            details = {"idempotencyKey": key}
        super().__init__(message, details=details)
        if isinstance(details, dict) and details.get("idempotencyKey"):
            self.headers = {"Idempotency-Key": str(details["idempotencyKey"])}
