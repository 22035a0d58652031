"""Reasons of the slot endpoints."""

from core.errors import ConflictError, NotFoundError


class SlotNotFoundError(NotFoundError):
    reason = "SLOT_NOT_FOUND"
    default_message = "Slot not found"


class SlotOverlapError(ConflictError):
    reason = "SLOT_OVERLAP"
    default_message = "Slot overlaps with an existing slot"


class SlotHasBookingError(ConflictError):
    reason = "SLOT_HAS_BOOKING"
    default_message = "Cannot delete a booked slot"


class SlotNotAvailableError(ConflictError):
    reason = "SLOT_NOT_AVAILABLE"
    default_message = "Slot is no longer available"
