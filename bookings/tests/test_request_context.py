"""The request id of X-Request-Id reaches every audit row the request writes, and every log line
it logs: API slot creation, booking in both modes (the queued worker gets it in the payload),
cancellation."""

from __future__ import annotations

import logging

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingEvent
from core.context import current_request_id, request_context
from core.logging.filters import RequestIdFilter
from slots.models import SlotEvent
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # queued workers see committed rows only


def test_api_slot_creation_records_the_request_id_on_its_audit_row(api):
    host = HostFactory.create()
    response = api.as_user(host).post_json(
        "/api/slots",
        {"startTime": "2031-01-06T09:00:00Z", "endTime": "2031-01-06T10:00:00Z"},
        HTTP_X_REQUEST_ID="req-slot-create-1",
    )
    assert response.status_code == 201, response.content
    event = SlotEvent.objects.get(slot_id=response.json()["data"]["id"])
    assert (event.action, event.request_id) == ("CREATED", "req-slot-create-1")


def test_booking_records_the_request_id_in_both_modes(api, booking_mode):
    guest = UserFactory.create()
    slot = SlotFactory.create()
    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(slot.pk)}, HTTP_X_REQUEST_ID=f"req-book-{booking_mode}"
    )
    assert response.status_code == 201, response.content
    event = BookingEvent.objects.get(booking_id=response.json()["data"]["id"])
    expected_source = "worker" if booking_mode == "queued" else "api"
    assert (event.source, event.request_id) == (expected_source, f"req-book-{booking_mode}")


def test_cancellation_records_the_request_id(api):
    guest = UserFactory.create()
    slot = SlotFactory.create()
    booked = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})
    assert booked.status_code == 201, booked.content
    booking_id = booked.json()["data"]["id"]
    response = api.as_user(guest).generic(
        "DELETE", f"/api/bookings/{booking_id}", HTTP_X_REQUEST_ID="req-cancel-1"
    )
    assert response.status_code == 200, response.content
    event = BookingEvent.objects.get(booking_id=booking_id, action="CANCELLED")
    assert event.request_id == "req-cancel-1"
    assert Booking.objects.get(pk=booking_id).status == "CANCELLED"


def test_the_request_id_is_gone_after_the_request():
    assert current_request_id() is None


def test_log_lines_inside_a_request_context_name_the_request():
    def record() -> logging.LogRecord:
        return logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)

    inside, outside = record(), record()
    with request_context("req-log-1"):
        assert RequestIdFilter().filter(inside)
    assert RequestIdFilter().filter(outside)
    assert inside.requestId == "req-log-1"  # type: ignore[attr-defined]
    assert not hasattr(outside, "requestId")
