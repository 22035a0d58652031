"""SPEC §14 concurrency scenarios over real HTTP: concurrent clients against the live server.

Each client thread sends one request with urllib and its own socket; the live server answers
each in a thread of its own with its own database connection. Overlap, statuses, reasons and
the §2.4 invariants are checked as in the service-level tests. The booking POST scenarios are
in bookings/tests/test_modes.py, run in both modes where the mode does not matter to them.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from accounts.locks import user_lock
from accounts.models import User
from accounts.tests.factories import HostFactory, UserFactory
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from slotbooking.tests.concurrency import (
    LocksHeld,
    answers,
    assert_overlapped,
    http_call,
    outcomes,
    run_at_once,
    slot_locks,
)
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the server sees only committed rows


def test_two_deletes_of_one_booking_at_once_give_one_200_and_one_409(live_server):
    guest = UserFactory.create()
    slot = SlotFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    url = f"{live_server.url}/api/bookings/{booking.pk}"
    cancel = partial(http_call, "DELETE", url, user_id=guest.pk)

    with LocksHeld(slot_locks(slot), release_when_waiting=2):
        attempts = run_at_once([cancel, cancel], connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(200, None): 1, (409, "BOOKING_ALREADY_CANCELLED"): 1}
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.AVAILABLE, 0)
    assert_booking_invariants()


def test_two_overlapping_slot_posts_by_one_host_at_once_give_one_201_and_one_409_slot_overlap(
    live_server,
):
    host = HostFactory.create()
    start = now_ms().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    bodies = [
        {"startTime": start.isoformat(), "endTime": (start + timedelta(hours=1)).isoformat()},
        {
            "startTime": (start + timedelta(minutes=30)).isoformat(),
            "endTime": (start + timedelta(minutes=90)).isoformat(),
        },
    ]
    url = f"{live_server.url}/api/slots"
    calls = [partial(http_call, "POST", url, user_id=host.pk, body=body) for body in bodies]

    with LocksHeld(partial(user_lock, user_id=host.pk), release_when_waiting=2):
        attempts = run_at_once(calls, connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "SLOT_OVERLAP"): 1}
    (refused,) = [a for a in answers(attempts) if a.status == 409]
    assert refused.body["error"] == {
        "code": "CONFLICT",
        "reason": "SLOT_OVERLAP",
        "message": "Slot overlaps with an existing slot",
    }
    assert Slot.objects.filter(host=host).count() == 1
    assert_booking_invariants()


def test_an_overlap_that_slips_past_the_host_lock_still_answers_409_slot_overlap_not_500(
    live_server,
):
    # An uncommitted overlapping slot written without the host lock: the request passes the
    # overlap check, waits on the exclusion index, and slots_no_overlap decides (SPEC §13.2.2).
    host = HostFactory.create()
    start = now_ms().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)

    def unlocked_insert() -> None:
        Slot.objects.create(host=host, start_time=start, end_time=start + timedelta(hours=1))

    body = {
        "startTime": (start + timedelta(minutes=30)).isoformat(),
        "endTime": (start + timedelta(minutes=90)).isoformat(),
    }
    post = partial(http_call, "POST", f"{live_server.url}/api/slots", user_id=host.pk, body=body)
    with LocksHeld(unlocked_insert, release_when_waiting=1):
        attempts = run_at_once([post], connect=False)

    assert outcomes(attempts) == {(409, "SLOT_OVERLAP"): 1}
    assert Slot.objects.filter(host=host).count() == 1
    assert_booking_invariants()


def test_two_registrations_of_one_email_in_different_cases_give_one_201_and_one_409_email_taken(
    live_server,
):
    # A third, uncommitted registration of the same email holds the unique index; both requests
    # pass the "email exists" check and queue on the index. It then rolls back, so one request
    # wins and the other is decided by users_email_unique_ci (SPEC §13.2.12).
    def uncommitted_registration() -> None:
        UserFactory.create(email="race@example.com")

    url = f"{live_server.url}/api/users"
    calls = [
        partial(http_call, "POST", url, user_id="", body={"email": email, "name": "Racer"})
        for email in ("Race@Example.com", "race@EXAMPLE.COM")
    ]
    with LocksHeld(uncommitted_registration, release_when_waiting=2, rollback=True):
        attempts = run_at_once(calls, connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "EMAIL_TAKEN"): 1}
    (refused,) = [a for a in answers(attempts) if a.status == 409]
    assert refused.body["error"]["message"] == "A user with this email already exists"
    assert User.objects.filter(email__iexact="race@example.com").count() == 1
