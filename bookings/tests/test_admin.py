from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.tests.factories import HostFactory, UserFactory
from bookings.audit import STAFF_OVERRIDE
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.services import booking_create
from bookings.tests.factories import BookingFactory
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import format_instant, now_ms
from slotbooking.tests.admin import queries_of, staff_client
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bookings_booking_changelist")
EVENTS = reverse("admin:bookings_bookingevent_changelist")


def test_booking_and_event_changelists_do_not_grow_queries_with_rows(
    client, django_assert_max_num_queries
):
    client, _ = staff_client(client)
    BookingFactory.create_batch(1)
    one = queries_of(client, CHANGELIST)
    one_event = queries_of(client, EVENTS)
    BookingFactory.create_batch(10)
    with django_assert_max_num_queries(one + 1):  # +1 at most: the host filter's option list
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 11
    with django_assert_max_num_queries(one_event):
        client.get(EVENTS)


def test_admin_add_booking_on_a_full_slot_is_refused_with_a_message(client, guest):
    client, _ = staff_client(client)
    slot = SlotFactory.create()
    booking_create(user_id=guest.pk, slot_id=slot.pk)
    other = UserFactory.create()
    response = client.post(
        reverse("admin:bookings_booking_add"), {"user": other.pk, "slot": slot.pk}
    )
    assert response.status_code == 200
    assert b"Slot is no longer available" in response.content
    assert any("Slot is no longer available" in str(m) for m in response.context["messages"])
    assert not Booking.objects.filter(user=other).exists()
    assert_booking_invariants()


def test_admin_add_booking_goes_through_booking_create_with_source_admin(client, guest):
    client, staff = staff_client(client)
    slot = SlotFactory.create()
    response = client.post(
        reverse("admin:bookings_booking_add"), {"user": guest.pk, "slot": slot.pk}
    )
    assert response.status_code == 302
    booking = Booking.objects.get(user=guest)
    event = BookingEvent.objects.get(booking=booking)
    assert (event.source, event.actor_id, event.new_status) == ("admin", staff.pk, "CONFIRMED")
    # own slot: the rule holds in the admin too
    response = client.post(
        reverse("admin:bookings_booking_add"),
        {"user": slot.host.pk, "slot": SlotFactory.create(host=slot.host).pk},
    )
    assert b"You cannot book your own slot" in response.content


def test_cancel_with_reason_asks_then_cancels_inside_the_cutoff_with_the_override_noted(
    client, guest
):
    client, staff = staff_client(client)
    soon = now_ms() + timedelta(minutes=30)  # inside the 1 h cutoff
    slot = SlotFactory.create(start_time=soon, end_time=soon + timedelta(hours=1))
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    form = {"action": "cancel_with_reason", "_selected_action": [booking.pk]}
    response = client.post(CHANGELIST, form)
    assert response.status_code == 200
    assert b"Cancel these bookings" in response.content  # the intermediate page
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED

    response = client.post(CHANGELIST, {**form, "apply": "1", "reason": "host is ill"}, follow=True)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    event = BookingEvent.objects.get(booking=booking, action="CANCELLED")
    assert event.source == "admin"
    assert event.actor_id == staff.pk
    assert event.reason == f"host is ill; {STAFF_OVERRIDE}"
    assert any("1 booking(s) cancelled" in str(m) for m in response.context["messages"])

    response = client.post(CHANGELIST, {**form, "apply": "1", "reason": ""}, follow=True)
    assert any("already cancelled" in str(m) for m in response.context["messages"])
    assert_booking_invariants()


def test_export_csv_of_the_selection_in_the_spec_format(client):
    client, _ = staff_client(client)
    host = HostFactory.create(name="=cmd|' /C calc'!A0")
    slot = SlotFactory.create(host=host)
    guest = UserFactory.create(name="@guest")
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    BookingFactory.create_batch(1)
    response = client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [booking.pk]})
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "bookingId", "status", "createdAt", "cancelledAt", "slotId", "slotStartTime",
        "slotEndTime", "hostId", "hostName", "hostEmail", "guestId", "guestName", "guestEmail",
    ]  # fmt: skip
    assert rows[1] == [
        str(booking.pk), "CONFIRMED", format_instant(booking.created_at), "", str(slot.pk),
        format_instant(slot.start_time), format_instant(slot.end_time), str(host.pk),
        "'=cmd|' /C calc'!A0", host.email, str(guest.pk), "'@guest", guest.email,
    ]  # fmt: skip
    assert len(rows) == 2
    assert body.endswith("\r\n")


def test_booking_change_page_is_read_only_with_the_audit_inline(client, guest):
    client, _ = staff_client(client)
    booking = BookingFactory.create_batch(1)[0]
    response = client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    assert response.status_code == 200
    assert b"audit log (read-only)" in response.content.lower() or b"Audit log" in response.content
    assert b'name="status"' not in response.content
    response = client.get(EVENTS, {"q": str(booking.pk)})
    assert len(response.context["cl"].result_list) == 1
