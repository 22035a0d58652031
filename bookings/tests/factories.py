"""The one way tests make bookings: BookingFactory through the service, post_booking over HTTP."""

from __future__ import annotations

from typing import Any

import factory

from accounts.tests.factories import UserFactory
from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from slots.tests.factories import SlotFactory


class BookingFactory(factory.Factory[Booking]):
    """A booking made by booking_create, so the trigger counts it and its audit event exists.

    `cancelled=True` cancels it through booking_cancel; `created_at` then backdates the row
    (history for analytics), which no service can do.
    """

    class Meta:
        model = Booking

    user = factory.SubFactory(UserFactory)
    slot = factory.SubFactory(SlotFactory)
    cancelled = False
    created_at = None

    @classmethod
    def _create(cls, model_class: type[Booking], *args: Any, **kwargs: Any) -> Booking:
        user, slot = kwargs.pop("user"), kwargs.pop("slot")
        cancelled, created_at = kwargs.pop("cancelled"), kwargs.pop("created_at")
        booking = booking_create(user_id=user.pk, slot_id=slot.pk, **kwargs)
        if cancelled:
            booking = booking_cancel(booking_id=booking.pk, actor_id=user.pk)
        if created_at is not None:
            Booking.objects.filter(pk=booking.pk).update(created_at=created_at)
            booking.created_at = created_at
        return booking


def post_booking(api: Any, user: Any, slot: Any, **extra: Any) -> Any:
    """POST /api/bookings for `slot` (a Slot or its id) as `user` (None: as `api` already is)."""
    client = api if user is None else api.as_user(user)
    slot_id = getattr(slot, "pk", slot)
    return client.post_json("/api/bookings", {"slotId": str(slot_id)}, **extra)
