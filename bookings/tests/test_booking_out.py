"""BookingOut renders a booking by hand on the hot path: it must give exactly what its declared
fields give (they are the OpenAPI schema), for confirmed and cancelled bookings alike."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from bookings.models import Booking
from bookings.serializers import BookingOut
from bookings.services import booking_cancel
from bookings.tests.factories import BookingFactory
from core.idempotency.records import render_json

pytestmark = pytest.mark.django_db


def _by_fields(booking: Booking) -> dict:
    return dict(serializers.Serializer.to_representation(BookingOut(), booking))


def test_booking_out_renders_what_its_fields_declare():
    confirmed = [BookingFactory.create() for _ in range(3)]
    cancelled = BookingFactory.create()
    booking_cancel(booking_id=cancelled.pk, actor_id=None, staff_override=True)
    bookings = list(Booking.objects.select_related("slot__host").order_by("created_at"))
    assert len(bookings) == len(confirmed) + 1
    assert any(b.cancelled_at is not None for b in bookings)

    for booking in bookings:
        assert BookingOut(booking).data == _by_fields(booking)
        assert render_json(BookingOut(booking).data) == render_json(_by_fields(booking))
    assert BookingOut(bookings, many=True).data == [_by_fields(b) for b in bookings]
