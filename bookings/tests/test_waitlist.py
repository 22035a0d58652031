"""The waitlist over HTTP (SPEC §12.5): join in order of checks, leave, list with positions, and
offers made in the transaction that frees the place."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.tests.factories import UserFactory
from bookings.holds import hold_create, hold_release, holds_expire_sweep
from bookings.models import Booking, Hold, HoldStatus, WaitlistEntry, WaitlistStatus
from bookings.reschedule import booking_reschedule
from bookings.services import booking_cancel, booking_create
from bookings.tasks import holds_expire_task
from bookings.tests.invariants import assert_booking_invariants
from bookings.waitlist import waitlist_join, waitlist_leave
from core.db.instants import now_ms
from slotbooking.tests.envelopes import assert_error
from slots.models import Slot, SlotStatus
from slots.services import slot_update
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)

ENTRY_KEYS = [
    "id",
    "slotId",
    "userId",
    "status",
    "position",
    "holdId",
    "offerExpiresAt",
    "createdAt",
]


@pytest.fixture(autouse=True)
def _invariants():
    yield
    assert_booking_invariants()


def join(api, user, slot_id):
    return api.as_user(user).post(f"/api/slots/{slot_id}/waitlist")


def full_slot(**kwargs):
    slot = SlotFactory.create(**kwargs)
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    return slot, booking


def test_12_5_join_a_full_slot_201_with_position(api):
    slot, _ = full_slot()
    first, second = UserFactory.create_batch(2)

    one = join(api, first, slot.pk)
    two = join(api, second, slot.pk)

    assert one.status_code == 201, one.content
    assert list(one.json()["data"]) == ENTRY_KEYS
    assert one.json()["data"]["status"] == "WAITING"
    assert (one.json()["data"]["position"], two.json()["data"]["position"]) == (1, 2)
    assert one.json()["data"]["holdId"] is None
    assert one.json()["data"]["offerExpiresAt"] is None


def test_12_5_join_checks_in_order(api, host):
    unknown = join(api, host, "00000000-0000-4000-8000-000000000000")
    cancelled = SlotFactory.create(status=SlotStatus.CANCELLED)
    past = SlotFactory.create(
        start_time=now_ms() - timedelta(minutes=10), end_time=now_ms() + timedelta(minutes=50)
    )
    own, _ = full_slot(host=host)
    booked, booking = full_slot()
    guest = booking.user
    waiting, _ = full_slot()
    join(api, guest, waiting.pk)
    free = SlotFactory.create(capacity=2)
    booking_create(user_id=UserFactory.create().pk, slot_id=free.pk)

    assert_error(unknown, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")
    assert_error(
        join(api, guest, cancelled.pk),
        409,
        "CONFLICT",
        "SLOT_NOT_AVAILABLE",
        "Slot is no longer available",
    )
    assert_error(
        join(api, guest, past.pk),
        400,
        "BAD_REQUEST",
        "SLOT_IN_PAST",
        "Cannot book a slot in the past",
    )
    assert_error(
        join(api, host, own.pk),
        400,
        "BAD_REQUEST",
        "BOOKING_OWN_SLOT",
        "You cannot book your own slot",
    )
    assert_error(
        join(api, guest, booked.pk),
        409,
        "CONFLICT",
        "ALREADY_BOOKED",
        "You already have a booking for this slot",
    )
    assert_error(
        join(api, guest, waiting.pk),
        409,
        "CONFLICT",
        "ALREADY_ON_WAITLIST",
        "You are already on the waitlist for this slot",
    )
    assert_error(
        join(api, guest, free.pk),
        409,
        "CONFLICT",
        "SLOT_NOT_FULL",
        "Slot has free places; book it instead",
    )


def test_12_5_leave_and_list(api):
    slot, _ = full_slot()
    host = slot.host
    users = UserFactory.create_batch(3)
    for user in users:
        join(api, user, slot.pk)

    mine = api.as_user(users[1]).get(f"/api/slots/{slot.pk}/waitlist").json()
    hosts = api.as_user(host).get(f"/api/slots/{slot.pk}/waitlist", {"limit": 2}).json()
    left = api.as_user(users[0]).delete(f"/api/slots/{slot.pk}/waitlist")
    again = api.as_user(users[0]).delete(f"/api/slots/{slot.pk}/waitlist")
    after = api.as_user(users[2]).get(f"/api/slots/{slot.pk}/waitlist").json()["data"]

    assert [row["userId"] for row in mine["data"]] == [str(users[1].pk)]
    assert mine["data"][0]["position"] == 2
    assert [row["position"] for row in hosts["data"]] == [1, 2]
    assert hosts["meta"]["total"] == 3
    assert left.status_code == 200
    assert left.json()["data"]["status"] == "LEFT"
    assert left.json()["data"]["position"] is None
    assert_error(
        again,
        404,
        "NOT_FOUND",
        "WAITLIST_ENTRY_NOT_FOUND",
        "You are not on the waitlist for this slot",
    )
    assert after[0]["position"] == 2 - 1 + 1
    assert after[0]["userId"] == str(users[2].pk)


def test_12_5_a_cancellation_offers_the_place_in_the_same_transaction_then_passes_it_on(
    api, settings, booking_mode
):
    """Three waiting users on a full slot. The cancel gives the first an offer hold at once; the
    offer lapses (short ttl) and the sweep, with no request touching the slot, passes it to the
    second. The second books with the offer: the entry is BOOKED."""
    settings.WAITLIST_OFFER_TTL_SECONDS = 60
    slot, booking = full_slot()
    users = UserFactory.create_batch(3)
    for user in users:
        waitlist_join(user_id=user.pk, slot_id=slot.pk)

    cancelled = api.as_user(booking.user).delete(f"/api/bookings/{booking.pk}")

    assert cancelled.status_code == 200
    first = WaitlistEntry.objects.get(user=users[0])
    assert first.status == WaitlistStatus.OFFERED
    offer = first.hold
    assert offer is not None
    assert offer.status == HoldStatus.ACTIVE
    assert offer.user_id == users[0].pk
    assert 59 <= (offer.expires_at - now_ms()).total_seconds() <= 60
    assert cancelled.json()["data"]["slot"]["status"] == "AVAILABLE"
    assert api.get(f"/api/slots/{slot.pk}").json()["data"]["remaining"] == 0
    seen = api.as_user(users[0]).get(f"/api/slots/{slot.pk}/waitlist").json()["data"][0]
    assert seen["holdId"] == str(offer.pk)
    assert seen["offerExpiresAt"] is not None
    assert_error(
        api.as_user(users[2]).post_json("/api/bookings", {"slotId": str(slot.pk)}),
        409,
        "CONFLICT",
        "SLOT_NOT_AVAILABLE",
        "Slot is no longer available",
    )

    Hold.objects.filter(pk=offer.pk).update(expires_at=now_ms() - timedelta(seconds=1))
    assert holds_expire_task() == 1  # what beat runs every 30 s

    assert WaitlistEntry.objects.get(pk=first.pk).status == WaitlistStatus.EXPIRED
    second = WaitlistEntry.objects.get(user=users[1])
    assert second.status == WaitlistStatus.OFFERED
    booked = api.as_user(users[1]).post_json(
        "/api/bookings", {"slotId": str(slot.pk), "holdId": str(second.hold_id)}
    )
    assert booked.status_code == 201, booked.content
    assert WaitlistEntry.objects.get(pk=second.pk).status == WaitlistStatus.BOOKED
    assert WaitlistEntry.objects.get(user=users[2]).status == WaitlistStatus.WAITING


def test_12_5_an_offer_never_lasts_past_the_start(settings):
    settings.WAITLIST_OFFER_TTL_SECONDS = 86400
    slot, booking = full_slot(start_time=now_ms() + timedelta(hours=2))
    waiter = UserFactory.create()
    waitlist_join(user_id=waiter.pk, slot_id=slot.pk)

    booking_cancel(booking_id=booking.pk, actor_id=booking.user_id)

    offer = WaitlistEntry.objects.get(user=waiter).hold
    assert offer is not None
    assert offer.expires_at == Slot.objects.get(pk=slot.pk).start_time


def test_12_5_reschedule_away_release_and_leave_pass_the_place_on():
    slot, booking = full_slot()
    waiters = UserFactory.create_batch(3)
    for user in waiters:
        waitlist_join(user_id=user.pk, slot_id=slot.pk)

    booking_reschedule(
        booking_id=booking.pk, user_id=booking.user_id, slot_id=SlotFactory.create().pk
    )
    first = WaitlistEntry.objects.get(user=waiters[0])
    assert first.status == WaitlistStatus.OFFERED

    assert first.hold_id is not None
    hold_release(hold_id=first.hold_id, slot_id=slot.pk, user_id=waiters[0].pk)
    assert WaitlistEntry.objects.get(pk=first.pk).status == WaitlistStatus.LEFT
    second = WaitlistEntry.objects.get(user=waiters[1])
    assert second.status == WaitlistStatus.OFFERED

    waitlist_leave(user_id=waiters[1].pk, slot_id=slot.pk)
    assert Hold.objects.get(waitlist_entries=second).status == HoldStatus.RELEASED
    assert WaitlistEntry.objects.get(user=waiters[2]).status == WaitlistStatus.OFFERED


def test_12_5_a_lapsed_checkout_hold_offers_its_place():
    slot = SlotFactory.create()
    holder, waiter = UserFactory.create_batch(2)
    held = hold_create(user_id=holder.pk, slot_id=slot.pk)
    waitlist_join(user_id=waiter.pk, slot_id=slot.pk)
    Hold.objects.filter(pk=held.pk).update(expires_at=now_ms() - timedelta(seconds=1))

    holds_expire_sweep()

    assert Hold.objects.get(pk=held.pk).status == HoldStatus.EXPIRED
    assert WaitlistEntry.objects.get(user=waiter).status == WaitlistStatus.OFFERED


def test_12_5_raising_capacity_offers_the_new_places():
    slot, _ = full_slot()
    waiters = UserFactory.create_batch(3)
    for user in waiters:
        waitlist_join(user_id=user.pk, slot_id=slot.pk)

    slot_update(slot_id=slot.pk, capacity=3)

    statuses = [WaitlistEntry.objects.get(user=u).status for u in waiters]
    assert statuses == [WaitlistStatus.OFFERED, WaitlistStatus.OFFERED, WaitlistStatus.WAITING]
    assert Slot.objects.get(pk=slot.pk).held_count == 2


def test_12_5_deleting_the_slot_expires_every_entry(api):
    slot, booking = full_slot()
    waiters = UserFactory.create_batch(2)
    for user in waiters:
        waitlist_join(user_id=user.pk, slot_id=slot.pk)
    booking_cancel(booking_id=booking.pk, actor_id=booking.user_id)  # the first is offered

    response = api.as_user(slot.host).delete(f"/api/slots/{slot.pk}")

    assert response.status_code == 200
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.CANCELLED
    assert set(WaitlistEntry.objects.values_list("status", flat=True)) == {WaitlistStatus.EXPIRED}
    assert not Hold.objects.filter(status=HoldStatus.ACTIVE).exists()
    assert Booking.objects.filter(slot=slot).count() == 1


def test_12_5_beat_sweeps_holds_every_30_seconds_on_the_default_queue(settings):
    from slotbooking.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["holds-expire"]

    assert entry["task"] == "bookings.holds_expire"
    assert entry["schedule"] <= 30
    assert "bookings.holds_expire" in app.tasks
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
