"""Reasons of the booking endpoints (SPEC §3.4, §5)."""

from slotbooking.errors import BadRequestError, ConflictError, NotFoundError


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


class BookingAlreadyCancelledError(ConflictError):
    reason = "BOOKING_ALREADY_CANCELLED"
    default_message = "Booking is already cancelled"


class CancellationWindowClosedError(BadRequestError):
    reason = "CANCELLATION_WINDOW_CLOSED"
    default_message = "Cancellation is only allowed at least {n} hour(s) before the slot start time"
