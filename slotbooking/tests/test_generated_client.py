"""A typed client generated from the OpenAPI document books and lists (SPEC §3.5).

openapi-python-client turns the document into a Python package; the test imports it and uses it
against the live server as an application would. A document that mis-described a list, a body
or a parameter would fail here: at generation, at parsing, or at the types.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from accounts.tests.factories import HostFactory, UserFactory, token_for
from slotbooking.tests.openapi_tools import run_tool

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "slot_booking_client"


@pytest.fixture
def generated(api, tmp_path, monkeypatch):
    """Generate the client package into tmp_path and return an importer for its modules."""
    document = api.get("/api/schema/?format=json")
    assert document.status_code == 200
    (tmp_path / "openapi.json").write_text(json.dumps(document.json()))

    result = run_tool(
        "openapi-python-client",
        "generate",
        "--path",
        "openapi.json",
        "--output-path",
        PACKAGE,
        "--meta",
        "none",
        cwd=tmp_path,
        timeout=300,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output, output
    assert "error" not in output.lower(), output
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        monkeypatch.delitem(sys.modules, name)

    def module(name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.{name}")

    return module


def test_a_generated_client_publishes_lists_books_cancels_and_reads_history(generated, live_server):
    client_module = generated("client")
    models = generated("models")
    slots_create = generated("api.slots.api_slots_create")
    slots_list = generated("api.slots.api_slots_list")
    host_slots = generated("api.slots.api_slots_host_list")
    bookings_create = generated("api.bookings.api_bookings_create")
    bookings_list = generated("api.bookings.api_bookings_list")
    bookings_destroy = generated("api.bookings.api_bookings_destroy")
    history = generated("api.bookings.api_bookings_history_list")
    users_me = generated("api.users.api_users_me_retrieve")

    host, guest, other = HostFactory.create(), UserFactory.create(), UserFactory.create()

    def client_for(user):
        return client_module.AuthenticatedClient(base_url=live_server.url, token=token_for(user))

    as_host, as_guest, as_other = client_for(host), client_for(guest), client_for(other)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)

    me = users_me.sync(client=as_guest)
    assert isinstance(me, models.UserEnvelope)
    assert str(me.data.id) == str(guest.pk)

    created = slots_create.sync(
        client=as_host,
        body=models.SlotCreateInRequest(start_time=start, end_time=start + timedelta(hours=1)),
        idempotency_key="client-slot-1",
    )
    assert isinstance(created, models.SlotEnvelope), created
    slot_id = created.data.id

    listed = slots_list.sync(
        client=as_guest,
        host_id=host.pk,
        status=models.ApiSlotsListStatus.AVAILABLE,
        start_date=datetime.now(UTC),
        limit=10,
    )
    assert isinstance(listed, models.SlotListEnvelope), listed
    assert [slot.id for slot in listed.data] == [slot_id]
    assert (listed.meta.page, listed.meta.limit, listed.meta.total) == (1, 10, 1)

    booked = bookings_create.sync(
        client=as_guest, body=models.BookingCreateInRequest(slot_id=slot_id)
    )
    assert isinstance(booked, models.BookingEnvelope), booked
    assert booked.data.status == models.BookingStatusEnum.CONFIRMED
    assert booked.data.cancelled_at is None
    assert booked.data.slot.status == models.SlotStatusEnum.BOOKED

    taken = bookings_create.sync(
        client=as_other, body=models.BookingCreateInRequest(slot_id=slot_id)
    )
    assert isinstance(taken, models.ErrorEnvelope), taken
    assert taken.error.reason == models.ReasonEnum.SLOT_NOT_AVAILABLE

    mine = bookings_list.sync(client=as_guest, status=models.ApiBookingsListStatus.CONFIRMED)
    assert isinstance(mine, models.BookingListEnvelope), mine
    assert [booking.id for booking in mine.data] == [booked.data.id]
    assert mine.meta.total == 1

    hosted = host_slots.sync(client=as_host)
    assert isinstance(hosted, models.HostSlotListEnvelope), hosted
    assert [slot.id for slot in hosted.data] == [slot_id]

    cancelled = bookings_destroy.sync(
        client=as_guest,
        booking_id=booked.data.id,
        body=models.BookingCancelInRequest(reason="Plans changed"),
    )
    assert isinstance(cancelled, models.BookingEnvelope), cancelled
    assert cancelled.data.status == models.BookingStatusEnum.CANCELLED
    assert cancelled.data.cancelled_at is not None

    events = history.sync(client=as_guest, booking_id=booked.data.id)
    assert isinstance(events, models.BookingEventListEnvelope), events
    assert [event.action for event in events.data] == ["CREATED", "CANCELLED"]
    assert events.data[-1].reason == "Plans changed"
    assert events.meta.total == 2
