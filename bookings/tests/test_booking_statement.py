"""A booking as one statement (booking_book_statement()): the outbox event it writes is the
one Python renders, and a slot that gains holds while the statement waits for its locks is
booked in a transaction instead, with nothing of the statement left behind."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from accounts.locks import user_lock
from accounts.tests.factories import HostFactory, UserFactory
from bookings.holds import hold_create, holds_expire_sweep
from bookings.models import Booking, Hold, HoldStatus, WaitlistStatus
from bookings.serializers import BookingOut
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from bookings.waitlist import waitlist_join
from core.db.instants import now_ms
from slotbooking.tests.concurrency import LocksHeld, lock_waiters
from slots.errors import SlotNotAvailableError
from slots.tests.factories import SlotFactory
from webhooks.events import event_body
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)

# Quotes, backslashes, control characters, non-ASCII and a line separator: every escape rule.
AWKWARD_NAME = 'Zoë "Q" O\'Brien \\ tab\there\nnew \x01 \u2028 名前 🎉'


# In the test's transaction (the statement runs in a savepoint there): the deliveries are then
# never handed to a worker, which would need the queued-mode broker fixtures.
@pytest.mark.django_db
def test_the_statement_writes_the_event_python_would_render(guest, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    host = HostFactory.create(name=AWKWARD_NAME)
    slot = SlotFactory.create(host=host)
    endpoint = webhook_endpoint_create(
        owner_id=guest.pk, url="http://127.0.0.1:9/hook", events=["booking.created"]
    )
    webhook_endpoint_create(  # another user's endpoint gets nothing
        owner_id=UserFactory.create().pk, url="http://127.0.0.1:9/x", events=["booking.created"]
    )

    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    event = WebhookEvent.objects.get()
    stored = Booking.objects.select_related("slot__host").get(pk=booking.pk)
    assert event.body == event_body(
        event_id=event.id,
        type="booking.created",
        created_at=event.created_at,
        data=dict(BookingOut(stored).data),
    )
    assert event.created_at == stored.created_at
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [endpoint.pk]
    assert BookingOut(booking).data == BookingOut(stored).data  # the 201 is the stored row


def test_holds_appearing_while_the_statement_waits_send_the_booking_through_a_transaction(guest):
    slot = SlotFactory.create(capacity=1)
    holder, waiter = UserFactory.create(), UserFactory.create()
    outcome: dict[str, object] = {}

    def book() -> None:
        try:
            outcome["booking"] = booking_create(user_id=guest.pk, slot_id=slot.pk)
        except Exception as exc:  # the test asserts on it
            outcome["error"] = exc
        finally:
            connection.close()

    with LocksHeld(lambda: user_lock(user_id=guest.pk)) as held:
        booker = threading.Thread(target=book)
        booker.start()  # its pre-read sees a free slot without holds, then waits for the guest
        deadline = now_ms() + timedelta(seconds=30)
        while lock_waiters() < 1:
            assert now_ms() < deadline, "the booking never waited for the guest's lock"
        # Meanwhile the only place is held, a guest joins the waitlist, and the hold lapses: the
        # place the booking would see free is owed to the waitlist first.
        hold = hold_create(user_id=holder.pk, slot_id=slot.pk)
        entry = waitlist_join(user_id=waiter.pk, slot_id=slot.pk)
        Hold.objects.filter(pk=hold.pk).update(
            created_at=now_ms() - timedelta(minutes=2), expires_at=now_ms() - timedelta(minutes=1)
        )
        held.release()
    booker.join(30)

    # The statement found lapsed holds owing the waitlist and gave way to the transaction, which
    # refused the booking (the freed place is the waiter's) and, refusing, kept nothing: no
    # booking, no event, the hold and the entry as they were, for the sweep to settle.
    assert isinstance(outcome.get("error"), SlotNotAvailableError), outcome
    assert not Booking.objects.filter(user=guest).exists()
    assert not WebhookEvent.objects.filter(type="booking.created").exists()
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING
    assert_booking_invariants()

    holds_expire_sweep()

    entry.refresh_from_db()
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.EXPIRED
    assert entry.status == WaitlistStatus.OFFERED
