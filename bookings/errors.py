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


# Holds, reschedule and the waitlist -------------------------------------------------------------
class HoldNotFoundError(NotFoundError):
    reason = "HOLD_NOT_FOUND"
    default_message = "Hold not found"


class HoldSlotMismatchError(BadRequestError):
    reason = "HOLD_SLOT_MISMATCH"
    default_message = "Hold is for a different slot"


class HoldExpiredError(ConflictError):
    reason = "HOLD_EXPIRED"
    default_message = "Hold has expired"


class HoldExistsError(ConflictError):
    reason = "HOLD_EXISTS"
    default_message = "You already hold a place on this slot"


class HoldNotActiveError(ConflictError):
    reason = "HOLD_NOT_ACTIVE"
    default_message = "Hold is no longer active"


class RescheduleSameSlotError(BadRequestError):
    reason = "RESCHEDULE_SAME_SLOT"
    default_message = "The booking is already for this slot"


class RescheduleWindowClosedError(BadRequestError):
    reason = "RESCHEDULE_WINDOW_CLOSED"
    default_message = "Rescheduling is only allowed at least {d} before the slot start time"


class SlotNotFullError(ConflictError):
    reason = "SLOT_NOT_FULL"
    default_message = "Slot has free places; book it instead"


class AlreadyOnWaitlistError(ConflictError):
    reason = "ALREADY_ON_WAITLIST"
    default_message = "You are already on the waitlist for this slot"


class WaitlistEntryNotFoundError(NotFoundError):
    reason = "WAITLIST_ENTRY_NOT_FOUND"
    default_message = "You are not on the waitlist for this slot"
