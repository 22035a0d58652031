"""The API's hot slot reads (fixed SQL, plain dicts) against the ORM selectors and serializers.

GET /api/slots and GET /api/slots/{id} answer from slots.selectors.slot_list_page /
bookings.selectors.slot_row_for_viewer and slots.serializers.slot_out / host_slot_out. The ORM
selectors (slot_list, slot_get_for_viewer) with SlotOut / HostSlotOut are the reference: over
slots of every kind (booked, partly booked, held, held by a lapsed hold, cancelled, past), every
filter and every page, both must render the same bytes.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.holds import hold_create
from bookings.models import Booking, Hold
from bookings.selectors import slot_get_for_viewer, slot_row_for_viewer
from bookings.services import booking_cancel, booking_create
from core.api.renderers import JsonRenderer
from core.api.viewsets import paginate
from core.db.instants import now_ms
from slots.errors import SlotNotFoundError
from slots.models import Slot, SlotStatus
from slots.selectors import slot_list, slot_list_page
from slots.serializers import HostSlotOut, SlotOut, host_slot_out, slot_out
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def render(data) -> bytes:
    return JsonRenderer().render({"success": True, "data": data})


@pytest.fixture
def world(settings):
    """Two hosts' slots in every state the reads distinguish, and four guests."""
    settings.MAX_ACTIVE_BOOKINGS = 50
    hosts = [HostFactory.create(name="Ånne Host"), HostFactory.create(name="Bo")]
    guests = [UserFactory.create(name=f"Guest {n} ✓") for n in range(4)]
    base = now_ms().replace(second=0, microsecond=0) + timedelta(days=3)
    slots: list[Slot] = []
    for i, (host, capacity) in enumerate(itertools.product(hosts, [1, 1, 3, 3, 2, 1])):
        start = base + timedelta(hours=i)
        slots.append(
            SlotFactory.create(
                host=host,
                start_time=start,
                end_time=start + timedelta(minutes=45),
                capacity=capacity,
            )
        )
    # Booked full, partly booked, cancelled bookings, active and lapsed holds, a cancelled slot.
    booking_create(user_id=guests[0].pk, slot_id=slots[0].pk)
    booking_create(user_id=guests[0].pk, slot_id=slots[8].pk)
    booking_create(user_id=guests[1].pk, slot_id=slots[8].pk)
    cancelled = booking_create(user_id=guests[2].pk, slot_id=slots[3].pk)
    booking_cancel(booking_id=cancelled.pk, actor_id=guests[2].pk)
    hold_create(user_id=guests[1].pk, slot_id=slots[4].pk)
    lapsed = hold_create(user_id=guests[2].pk, slot_id=slots[9].pk)
    Hold.objects.filter(pk=lapsed.pk).update(expires_at=now_ms() - timedelta(seconds=5))
    hold_create(user_id=guests[3].pk, slot_id=slots[10].pk)
    Slot.objects.filter(pk=slots[5].pk).update(status=SlotStatus.CANCELLED)
    past = now_ms() - timedelta(days=2)
    slots.append(
        SlotFactory.create(host=hosts[1], start_time=past, end_time=past + timedelta(hours=1))
    )
    assert Booking.objects.count() == 4
    return {"hosts": hosts, "guests": guests, "slots": slots, "base": base}


def test_one_slot_reads_the_same_for_its_host_and_for_anyone_else(world):
    viewers = [*world["hosts"], *world["guests"]]
    for slot, viewer in itertools.product(world["slots"], viewers):
        reference = slot_get_for_viewer(slot_id=slot.pk, viewer_id=viewer.pk)
        expected = (
            HostSlotOut(reference).data
            if reference.host_id == viewer.pk
            else SlotOut(reference).data
        )

        row, confirmed = slot_row_for_viewer(slot_id=slot.pk, viewer_id=viewer.pk)
        fast = slot_out(row) if confirmed is None else host_slot_out(row, confirmed)

        assert render(fast) == render(expected), (slot, viewer)
        assert (confirmed is not None) == (slot.host_id == viewer.pk)


def test_an_unknown_slot_is_not_found_by_either_read(world):
    with pytest.raises(SlotNotFoundError):
        slot_row_for_viewer(slot_id=None, viewer_id=world["guests"][0].pk)
    with pytest.raises(SlotNotFoundError):
        slot_row_for_viewer(slot_id=world["guests"][0].pk, viewer_id=world["guests"][0].pk)


def test_every_filter_and_page_lists_the_same_slots_and_total(world):
    base = world["base"]
    filters = {
        "host_id": [None, world["hosts"][0].pk, world["guests"][0].pk],
        "start_date": [None, base + timedelta(hours=2)],
        "end_date": [None, base + timedelta(hours=8)],
        "status": [None, SlotStatus.AVAILABLE, SlotStatus.BOOKED, SlotStatus.CANCELLED],
        "available": [None, True, False],
    }
    for values in itertools.product(*filters.values()):
        query = dict(zip(filters, values, strict=True))
        for page, limit in [(1, 20), (1, 3), (2, 3), (3, 5), (9, 3), (1, 1)]:
            rows, meta = paginate(slot_list(**query), page=page, limit=limit)
            fast_rows, total = slot_list_page(page=page, limit=limit, **query)

            assert total == meta["total"], (query, page, limit)
            assert render([slot_out(row) for row in fast_rows]) == render(
                SlotOut(rows, many=True).data
            ), (query, page, limit)


def test_the_list_endpoint_answers_what_the_reference_serializer_renders(api_as, world):
    guest = world["guests"][0]
    response = api_as(guest).get("/api/slots?limit=5&page=2")

    rows, meta = paginate(slot_list(), page=2, limit=5)
    expected = JsonRenderer().render(
        {"success": True, "data": SlotOut(rows, many=True).data, "meta": meta}
    )
    assert response.status_code == 200
    assert response.content == expected
