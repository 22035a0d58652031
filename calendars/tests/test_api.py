"""iCalendar endpoints (SPEC §12.8): a booking's .ics and the host feed, read back by two
independent parsers (icalendar and vobject) and checked line by line against RFC 5545."""

from __future__ import annotations

from datetime import UTC, timedelta

import icalendar
import pytest
import vobject  # type: ignore[import-untyped]  # ships no type hints

from accounts.tests.factories import HostFactory, UserFactory
from bookings.services import booking_cancel, booking_create
from core.db.instants import now_ms
from slotbooking.tests.envelopes import assert_error
from slots.services import slot_delete
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

# Multi-byte letters, and the characters RFC 5545 TEXT must escape: , ; \
TRICKY_NAME = "Zoë Ångström-Łukasiewicz, Ph.D.; Ⓜ️ \\ ünïcödé 日本語"


def assert_rfc5545_lines(body: bytes) -> None:
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # every line ends in CRLF, no bare LF
    for line in body.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line  # octets, not characters


def parse_both(body: bytes):
    """The same file through icalendar and through vobject."""
    ours = icalendar.Calendar.from_ical(body)
    theirs = vobject.readOne(body.decode("utf-8"))
    return ours, theirs


def ics(client, booking):
    return client.get(f"/api/bookings/{booking.pk}.ics")


def test_a_booking_ics_is_one_event_in_utc_that_both_parsers_read(api_as, guest):
    host = HostFactory.create(name=TRICKY_NAME)
    slot = SlotFactory.create(host=host)
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = ics(api_as(guest), booking)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="booking-{booking.pk}.ics"'
    body = response.content
    assert_rfc5545_lines(body)
    assert b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" in body or b"\r\nVERSION:2.0\r\n" in body
    assert b"\r\nPRODID:-//Slot Booking//EN\r\n" in body
    assert b"\r\nMETHOD:PUBLISH\r\n" in body
    unfolded = body.replace(b"\r\n ", b"")
    start = slot.start_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ").encode()
    assert b"\r\nDTSTART:" + start + b"\r\n" in unfolded  # UTC with Z, never floating
    assert (
        b"SUMMARY:Booking with Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m-\xc5\x81ukasiewicz\\, Ph.D.\\; "
        in unfolded
    )

    ours, theirs = parse_both(body)
    (event,) = ours.walk("VEVENT")
    assert str(event["UID"]) == f"{booking.pk}@slot-booking"
    assert event.decoded("DTSTART") == slot.start_time
    assert event.decoded("DTEND") == slot.end_time
    assert event.decoded("DTSTART").tzinfo is not None
    assert str(event["SUMMARY"]) == f"Booking with {TRICKY_NAME}"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 0
    assert "DTSTAMP" in event
    assert theirs.vevent.uid.value == f"{booking.pk}@slot-booking"
    assert theirs.vevent.summary.value == f"Booking with {TRICKY_NAME}"
    assert theirs.vevent.dtstart.value == slot.start_time
    assert theirs.vevent.dtend.value == slot.end_time
    assert theirs.vevent.status.value == "CONFIRMED"
    assert theirs.version.value == "2.0"


def test_a_cancelled_booking_is_cancelled_with_a_higher_sequence(api_as, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    booking_cancel(booking_id=booking.pk, actor_id=guest.pk)

    ours, theirs = parse_both(ics(api_as(guest), booking).content)

    (event,) = ours.walk("VEVENT")
    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCELLED", 1)
    assert theirs.vevent.status.value == "CANCELLED"
    assert theirs.vevent.sequence.value == "1"


def test_the_booking_ics_has_the_access_rules_of_the_booking(api_as, guest):
    host = HostFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create(host=host).pk)
    staff = UserFactory.create(is_staff=True)

    assert ics(api_as(host), booking).status_code == 200
    assert ics(api_as(staff, token=True), booking).status_code == 200
    assert_error(
        ics(api_as(UserFactory.create()), booking),
        403,
        "FORBIDDEN",
        "NOT_OWNER",
        "You can only view your own bookings",
    )
    client = api_as(guest)
    for missing in ("7d3e6c1a-0000-4000-8000-000000000000", "not-a-uuid"):
        assert_error(
            client.get(f"/api/bookings/{missing}.ics"),
            404,
            "NOT_FOUND",
            "BOOKING_NOT_FOUND",
            "Booking not found",
        )
    unauthenticated = api_as(None).get(f"/api/bookings/{booking.pk}.ics")
    assert unauthenticated.status_code == 401
    assert unauthenticated["Content-Type"] == "application/json; charset=utf-8"


def rotate(client):
    return client.post("/api/users/me/calendar-token")


def test_only_hosts_get_a_calendar_token(api_as, guest):
    assert_error(rotate(api_as(guest)), 403, "FORBIDDEN", "NOT_A_HOST", "Only hosts can do this")


def test_the_host_feed_lists_the_hosts_slots_with_guests_and_needs_no_other_credentials(
    api_as, api
):
    host = HostFactory.create(name="Ada Host")
    now = now_ms()
    booked = SlotFactory.create(host=host)
    free = SlotFactory.create(host=host)
    recent = SlotFactory.create(
        host=host, start_time=now - timedelta(days=29), end_time=now - timedelta(days=29, hours=-1)
    )
    SlotFactory.create(
        host=host, start_time=now - timedelta(days=31), end_time=now - timedelta(days=31, hours=-1)
    )  # too old
    cancelled = SlotFactory.create(host=host)
    history = booking_create(user_id=UserFactory.create().pk, slot_id=cancelled.pk)
    booking_cancel(booking_id=history.pk, actor_id=history.user_id)
    slot_delete(user_id=host.pk, slot_id=cancelled.pk)  # kept as CANCELLED: not in the feed
    SlotFactory.create()  # another host's
    guest = UserFactory.create(name="Grace Guest, Jr.")
    booking_create(user_id=guest.pk, slot_id=booked.pk)

    answer = rotate(api_as(host))
    assert answer.status_code == 200, answer.content
    data = answer.json()["data"]
    path = data["calendarUrl"]
    assert path.startswith(f"/api/hosts/{host.pk}/calendar.ics?token=cal_")
    assert data["absoluteUrl"].endswith(path)
    response = api.get(path)  # no Authorization, no x-user-id

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=300"
    assert_rfc5545_lines(response.content)
    ours, theirs = parse_both(response.content)
    events = {str(e["UID"]): str(e["SUMMARY"]) for e in ours.walk("VEVENT")}
    assert events == {
        f"{booked.pk}@slot-booking": "Booked: Grace Guest, Jr.",
        f"{free.pk}@slot-booking": "Available",
        f"{recent.pk}@slot-booking": "Available",
    }
    assert {e.uid.value: e.summary.value for e in theirs.vevent_list} == events
    assert all(e.dtstart.value.tzinfo is not None for e in theirs.vevent_list)


def test_a_wrong_missing_or_rotated_token_and_an_unknown_host_answer_404(api_as, api):
    host = HostFactory.create()
    old = rotate(api_as(host)).json()["data"]["calendarUrl"]
    new = rotate(api_as(host)).json()["data"]["calendarUrl"]
    other = HostFactory.create()

    assert api.get(new).status_code == 200
    for path in (
        old,  # rotation invalidates the previous token at once
        f"/api/hosts/{host.pk}/calendar.ics?token=cal_wrong",
        f"/api/hosts/{host.pk}/calendar.ics",
        f"/api/hosts/{other.pk}/calendar.ics?{new.split('?')[1]}",  # a token is one host's
        "/api/hosts/not-a-uuid/calendar.ics?token=x",
    ):
        assert_error(api.get(path), 404, "NOT_FOUND", "CALENDAR_NOT_FOUND", "Calendar not found")


def test_the_feed_token_is_not_an_api_token(api_as, api):
    host = HostFactory.create()
    token = rotate(api_as(host)).json()["data"]["calendarUrl"].split("token=")[1]

    response = api.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_error(response, 401, "UNAUTHORIZED", "INVALID_TOKEN", "Invalid API token")
