"""SPEC §14 concurrency scenarios over real HTTP: concurrent clients against the live server.

Each client thread sends one request with urllib and its own socket; the live server answers
each in a thread of its own with its own database connection. Overlap, statuses, reasons and
the §2.4 invariants are checked as in the service-level tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial

import pytest

from accounts.locks import user_lock
from accounts.models import User
from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from slotbooking.tests.concurrency import (
    Attempt,
    HttpAnswer,
    LocksHeld,
    assert_overlapped,
    http_call,
    run_at_once,
)
from slots.locks import slot_lock
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the server sees only committed rows


def answers(attempts: Sequence[Attempt]) -> list[HttpAnswer]:
    """Every client got an HTTP answer (no socket error, no timeout)."""
    assert [a.error for a in attempts if a.error is not None] == []
    return [a.result for a in attempts]


def outcomes(attempts: Sequence[Attempt]) -> Counter[tuple[int, str | None]]:
    """(status, reason) of every answer, counted."""
    return Counter((answer.status, answer.reason) for answer in answers(attempts))


def post_booking(server: str, user: User, slot: Slot) -> Callable[[], HttpAnswer]:
    return partial(
        http_call, "POST", f"{server}/api/bookings", user_id=user.pk, body={"slotId": str(slot.pk)}
    )


def slot_locks(*slots: Slot) -> Callable[[], None]:
    def take() -> None:
        for slot in sorted(slots, key=lambda s: s.pk):
            slot_lock(slot_id=slot.pk)

    return take


def test_ten_clients_posting_one_slot_at_once_get_one_201_and_nine_409_slot_not_available(
    live_server, settings
):
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3  # the winner stays in its transaction
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    attempts = run_at_once([post_booking(live_server.url, g, slot) for g in guests], connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "SLOT_NOT_AVAILABLE"): 9}
    (created,) = [a for a in answers(attempts) if a.status == 201]
    assert created.body["data"]["slot"]["status"] == "BOOKED"
    assert all(
        a.body["error"]["message"] == "Slot is no longer available"
        for a in answers(attempts)
        if a.status == 409
    )
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count() == 1
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


def test_ten_clients_queued_on_the_slot_lock_get_one_201_and_nine_409(live_server):
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    with LocksHeld(slot_locks(slot), release_when_waiting=10):
        attempts = run_at_once(
            [post_booking(live_server.url, g, slot) for g in guests], connect=False
        )

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "SLOT_NOT_AVAILABLE"): 9}
    assert_booking_invariants()


def test_twenty_clients_on_five_slots_of_one_host_get_five_201_and_fifteen_409(live_server):
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(5)]
    guests = UserFactory.create_batch(20)
    calls = [post_booking(live_server.url, g, slots[i % 5]) for i, g in enumerate(guests)]

    with LocksHeld(slot_locks(*slots), release_when_waiting=20):
        attempts = run_at_once(calls, connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 5, (409, "SLOT_NOT_AVAILABLE"): 15}
    booked = sorted(a.body["data"]["slotId"] for a in answers(attempts) if a.status == 201)
    assert booked == sorted(str(s.pk) for s in slots)  # one per slot
    assert_booking_invariants()


def test_twenty_clients_booking_twenty_different_slots_at_once_all_get_201(live_server, settings):
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    slots = [SlotFactory.create() for _ in range(20)]
    guests = UserFactory.create_batch(20)
    calls = [post_booking(live_server.url, g, s) for g, s in zip(guests, slots, strict=True)]

    attempts = run_at_once(calls, connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 20}
    assert_booking_invariants()


def test_one_client_posting_six_slots_of_six_hosts_at_once_gets_five_201_and_one_409(
    live_server, settings
):
    settings.MAX_ACTIVE_BOOKINGS = 5
    guest = UserFactory.create()
    slots = [SlotFactory.create() for _ in range(6)]

    with LocksHeld(partial(user_lock, user_id=guest.pk), release_when_waiting=6):
        attempts = run_at_once(
            [post_booking(live_server.url, guest, s) for s in slots], connect=False
        )

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 5, (409, "MAX_ACTIVE_BOOKINGS"): 1}
    (refused,) = [a for a in answers(attempts) if a.status == 409]
    assert refused.body["error"]["message"] == "You have reached the maximum of 5 active bookings"
    assert_booking_invariants()


def test_one_client_posting_two_slots_of_one_host_at_once_gets_201_and_409_host_already_booked(
    live_server,
):
    guest = UserFactory.create()
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(2)]

    with LocksHeld(partial(user_lock, user_id=guest.pk), release_when_waiting=2):
        attempts = run_at_once(
            [post_booking(live_server.url, guest, s) for s in slots], connect=False
        )

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "HOST_ALREADY_BOOKED"): 1}
    assert_booking_invariants()


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


def test_a_booking_post_behind_a_held_slot_lock_gets_503_lock_timeout_and_writes_nothing(
    live_server, settings
):
    settings.BOOKING_LOCK_TIMEOUT = 0.5
    slot = SlotFactory.create()
    guest = UserFactory.create()

    # Held until the request has been answered, so the wait must exceed the lock timeout.
    with LocksHeld(slot_locks(slot)):
        answer = post_booking(live_server.url, guest, slot)()

    assert answer.status == 503
    assert answer.headers.get("Retry-After") == "1"
    assert answer.body == {
        "success": False,
        "error": {
            "code": "SERVICE_UNAVAILABLE",
            "reason": "LOCK_TIMEOUT",
            "message": "The server is busy, please try again",
        },
    }
    assert not Booking.objects.exists()
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.AVAILABLE, 0)
    assert_booking_invariants()
