"""Holds and waitlist entries in the admin: visible on the slot page; staff release a hold or
remove an entry through the services (logged in the admin's history); capacity raised in the
admin offers the new places."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.tests.factories import UserFactory
from bookings.holds import hold_create
from bookings.models import Hold, HoldStatus, WaitlistEntry, WaitlistStatus
from bookings.services import booking_cancel, booking_create
from bookings.tests.invariants import assert_booking_invariants
from bookings.waitlist import waitlist_join
from slotbooking.tests.admin import staff_client
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def full_slot_with_waiters(n):
    slot = SlotFactory.create()
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    waiters = UserFactory.create_batch(n)
    for user in waiters:
        waitlist_join(user_id=user.pk, slot_id=slot.pk)
    return slot, waiters


def test_the_slot_page_shows_its_holds_and_waitlist(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create(capacity=2)
    holder = UserFactory.create(email="holder@example.com")
    hold_create(user_id=holder.pk, slot_id=slot.pk)
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    waitlist_join(user_id=UserFactory.create(email="waiter@example.com").pk, slot_id=slot.pk)

    page = client.get(reverse("admin:slots_slot_change", args=[slot.pk])).content.decode()

    assert "holder@example.com" in page
    assert "waiter@example.com" in page
    assert "waitlist, in order" in page.lower()


def test_staff_release_a_hold_and_its_place_is_offered(client):
    client, staff = staff_client(client)
    slot = SlotFactory.create()
    held = hold_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    waiter = UserFactory.create()
    waitlist_join(user_id=waiter.pk, slot_id=slot.pk)

    response = client.post(
        reverse("admin:bookings_hold_changelist"),
        {"action": "release", "_selected_action": [held.pk]},
    )

    assert response.status_code == 302
    assert Hold.objects.get(pk=held.pk).status == HoldStatus.RELEASED
    assert WaitlistEntry.objects.get(user=waiter).status == WaitlistStatus.OFFERED
    assert LogEntry.objects.filter(user=staff, object_id=str(held.pk)).exists()
    assert_booking_invariants()


def test_staff_remove_an_offered_entry_and_the_next_is_offered(client):
    client, staff = staff_client(client)
    slot, waiters = full_slot_with_waiters(2)
    booking = slot.bookings.get()
    booking_cancel(booking_id=booking.pk, actor_id=booking.user_id)
    first = WaitlistEntry.objects.get(user=waiters[0])
    assert first.status == WaitlistStatus.OFFERED

    client.post(
        reverse("admin:bookings_waitlistentry_changelist"),
        {"action": "remove", "_selected_action": [first.pk]},
    )

    assert WaitlistEntry.objects.get(pk=first.pk).status == WaitlistStatus.LEFT
    assert WaitlistEntry.objects.get(user=waiters[1]).status == WaitlistStatus.OFFERED
    assert LogEntry.objects.filter(user=staff, object_id=str(first.pk)).exists()
    assert_booking_invariants()


def test_raising_capacity_in_the_admin_offers_the_new_places(client):
    client, _ = staff_client(client)
    slot, waiters = full_slot_with_waiters(2)
    form = {
        "start_time_0": slot.start_time.strftime("%Y-%m-%d"),
        "start_time_1": slot.start_time.strftime("%H:%M:%S"),
        "end_time_0": slot.end_time.strftime("%Y-%m-%d"),
        "end_time_1": slot.end_time.strftime("%H:%M:%S"),
        "capacity": 2,
        "bookings-TOTAL_FORMS": 0,
        "bookings-INITIAL_FORMS": 0,
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
    }

    response = client.post(reverse("admin:slots_slot_change", args=[slot.pk]), form)

    assert response.status_code == 302
    assert [WaitlistEntry.objects.get(user=u).status for u in waiters] == [
        WaitlistStatus.OFFERED,
        WaitlistStatus.WAITING,
    ]
    assert_booking_invariants()


def test_check_integrity_finds_a_hold_the_count_misses():
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connection

    from bookings.models import HOLDS_SYNC_SLOT

    slot = SlotFactory.create()
    with connection.cursor() as cursor:
        # Bypass the trigger holds_sync_slot inside this test's transaction only.
        cursor.execute(f"ALTER TABLE holds DISABLE TRIGGER {HOLDS_SYNC_SLOT.get_pgid(Hold)}")  # type: ignore[arg-type]
        cursor.execute(
            """INSERT INTO holds (id, slot_id, user_id, status, expires_at, created_at, updated_at)
               VALUES (gen_random_uuid(), %s, %s, 'ACTIVE', now() + interval '1 hour',
                       now(), now())""",
            [slot.pk, UserFactory.create().pk],
        )
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("check_integrity", stdout=out)

    assert failure.value.returncode == 1
    assert (
        f"BREACH H1 held_count equals the slot's ACTIVE holds: slotId={slot.pk} "
        "heldCount=0 active=1" in out.getvalue().splitlines()
    )
