"""SQL queries per request on the hot paths, over HTTP (issue 6: `make bench`).

Each bound is the number measured when it was written, so it is tight: a new query on one of these
paths fails here first, and the bench profile (bench/results/profile-booking.txt) lists them. The
list endpoints are asserted at two page sizes with the same count: no N+1. Inside a test the
service's durable transaction is a savepoint, so SAVEPOINT/RELEASE count where BEGIN/COMMIT do in
production: the numbers are the same. The booking tests run outside a test transaction, in
autocommit as in production, where a booking is a single statement.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings.holds import hold_create
from bookings.services import booking_create
from core.db.instants import now_ms
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

# user, booking_book_statement() in autocommit (unlocked pre-read, lock timeout, locks, rules,
# booking, audit event, the webhook outbox, the slot as it is after): no BEGIN or COMMIT.
SUCCESSFUL_BOOKING = 2
# auth user, the statement's unlocked pre-read answers the 409 before any lock.
CONFLICTING_BOOKING = 2
# A slot holding a place books in a transaction (lapsed holds may owe the waitlist offers): user,
# the statement (its pre-read passes, then it declines), BEGIN, booking_book(), the outbox, COMMIT.
BOOKING_OF_A_HELD_SLOT = 6
# auth user, the slot with its host (and, for its host only, its confirmed bookings).
GET_SLOT = 2
# auth user, one page (joined with hosts), COUNT(*) for the total.
LIST_PAGE = 3
# auth user, one page of slots (joined with hosts) carrying the total (a window count).
LIST_SLOTS_PAGE = 2


def _slots(host, count: int):
    start = now_ms().replace(second=0, microsecond=0) + timedelta(days=2)
    return [
        SlotFactory.create(
            host=host,
            start_time=start + timedelta(hours=i),
            end_time=start + timedelta(hours=i, minutes=30),
        )
        for i in range(count)
    ]


# Transactional: the single statement runs in autocommit as in production, not in a savepoint.
@pytest.mark.django_db(transaction=True)
def test_a_successful_booking_runs_a_fixed_number_of_queries(
    api_as, guest, django_assert_num_queries
):
    slot = SlotFactory.create()
    client = api_as(guest)

    with django_assert_num_queries(SUCCESSFUL_BOOKING):
        response = client.post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201, response.content


@pytest.mark.django_db(transaction=True)
def test_a_conflicting_booking_is_answered_by_the_unlocked_precheck(
    api_as, guest, host, django_assert_num_queries
):
    slot = SlotFactory.create(host=host)
    booking_create(user_id=SlotFactory.create().host_id, slot_id=slot.pk)
    client = api_as(guest)

    with django_assert_num_queries(CONFLICTING_BOOKING):
        response = client.post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 409, response.content
    assert response.json()["error"]["reason"] == "SLOT_NOT_AVAILABLE"


@pytest.mark.django_db(transaction=True)
def test_a_slot_holding_a_place_is_booked_in_a_transaction(
    api_as, guest, host, django_assert_num_queries
):
    slot = SlotFactory.create(host=host, capacity=2)
    hold_create(user_id=SlotFactory.create().host_id, slot_id=slot.pk)
    client = api_as(guest)

    with django_assert_num_queries(BOOKING_OF_A_HELD_SLOT):
        response = client.post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201, response.content


def test_getting_a_slot_runs_one_query_after_authentication(
    api_as, guest, host, django_assert_num_queries
):
    slot = _slots(host, 1)[0]
    booking_create(user_id=guest.pk, slot_id=slot.pk)
    client = api_as(guest)

    with django_assert_num_queries(GET_SLOT):
        response = client.get(f"/api/slots/{slot.pk}")

    assert response.status_code == 200, response.content
    assert "bookingId" not in response.json()["data"]


def test_the_host_getting_their_slot_reads_its_booking_in_the_same_query(
    api_as, guest, host, django_assert_num_queries
):
    slot = _slots(host, 1)[0]
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    client = api_as(host)

    # Only the host sees the confirmed booking; the slot's query reads it only for the host.
    with django_assert_num_queries(GET_SLOT):
        response = client.get(f"/api/slots/{slot.pk}")

    assert response.status_code == 200, response.content
    assert response.json()["data"]["bookingId"] == str(booking.pk)


@pytest.mark.parametrize("limit", [5, 50])
def test_listing_slots_costs_the_same_queries_whatever_the_page_size(
    api_as, guest, host, limit, django_assert_num_queries
):
    _slots(host, 60)
    client = api_as(guest)

    with django_assert_num_queries(LIST_SLOTS_PAGE):
        response = client.get(f"/api/slots?limit={limit}")

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == limit


@pytest.mark.parametrize("limit", [2, 8])
def test_listing_bookings_costs_the_same_queries_whatever_the_page_size(
    api_as, guest, settings, limit, django_assert_num_queries
):
    settings.MAX_ACTIVE_BOOKINGS = 20
    for _ in range(10):  # a new host each: the per-host limit allows one active booking with each
        booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    client = api_as(guest)

    with django_assert_num_queries(LIST_PAGE):
        response = client.get(f"/api/bookings?limit={limit}")

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == limit


@pytest.mark.parametrize("limit", [5, 50])
def test_listing_a_hosts_slots_with_their_bookings_costs_the_same_queries(
    api_as, host, limit, django_assert_num_queries
):
    slots = _slots(host, 60)
    for slot in slots[::2]:
        booking_create(user_id=SlotFactory.create().host_id, slot_id=slot.pk)
    client = api_as(host)

    with django_assert_num_queries(LIST_PAGE):
        response = client.get(f"/api/slots/host?limit={limit}")

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == limit


# auth user, the booking's slot and guest (unlocked), BEGIN, booking_cancel() (lock timeout, slot
# then booking lock, cutoff, update, audit event, the slot as it is after), the webhook outbox,
# COMMIT.
SUCCESSFUL_CANCEL = 6


def test_a_successful_cancellation_runs_a_fixed_number_of_queries(
    api_as, guest, django_assert_num_queries
):
    slot = SlotFactory.create(start_time=now_ms() + timedelta(days=3))
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    client = api_as(guest)

    with django_assert_num_queries(SUCCESSFUL_CANCEL):
        response = client.delete(f"/api/bookings/{booking.pk}")

    assert response.status_code == 200, response.content
    assert response.json()["data"]["status"] == "CANCELLED"
