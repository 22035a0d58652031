from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Role
from accounts.tests.factories import HostFactory, UserFactory
from core.audit import EventSource
from core.db.instants import now_ms
from core.errors import NotAHostError, ValidationFailedError
from slots.errors import SlotHasBookingError, SlotOverlapError
from slots.models import Slot, SlotEvent, SlotEventAction, SlotStatus
from slots.services import (
    PlannedSlot,
    SlotRule,
    slot_bulk_create,
    slot_create,
    slot_delete,
    slot_rule_expand,
    slot_update,
)

pytestmark = pytest.mark.django_db

NEXT_YEAR = now_ms().year + 1
MARCH_FIRST = date(NEXT_YEAR, 3, 1)
MONDAY = MARCH_FIRST + timedelta(days=(7 - MARCH_FIRST.weekday()) % 7)  # first Monday of March


def rule(**overrides) -> SlotRule:
    values = {
        "start_date": MONDAY,
        "end_date": MONDAY + timedelta(days=6),
        "weekdays": ["MON", "WED"],
        "times": [time(9), time(14)],
        "duration_minutes": 60,
        "time_zone": "UTC",
    }
    return SlotRule(**{**values, **overrides})


def test_spring_forward_gap_is_skipped_and_fall_back_takes_the_first_occurrence():
    # Europe/Berlin, 2026: 29 March 02:00 → 03:00 (gap); 25 October 03:00 → 02:00 (repeat).
    spring = SlotRule(
        start_date=date(2026, 3, 29),
        end_date=date(2026, 3, 29),
        weekdays=["SUN"],
        times=[time(1, 30), time(2, 30), time(3, 30)],
        duration_minutes=30,
        time_zone="Europe/Berlin",
    )
    planned, skipped = slot_rule_expand(
        rule=spring, zone="Europe/Berlin", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert [p.start_time for p in planned] == [
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 01:30 CET
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 03:30 CEST
    ]
    assert [(s.reason, s.local) for s in skipped] == [
        ("NONEXISTENT_LOCAL_TIME", "2026-03-29 02:30 Europe/Berlin")
    ]

    autumn = SlotRule(
        start_date=date(2026, 10, 25),
        end_date=date(2026, 10, 25),
        weekdays=["SUN"],
        times=[time(2, 30)],
        duration_minutes=60,
        time_zone="Europe/Berlin",
    )
    planned, skipped = slot_rule_expand(
        rule=autumn, zone="Europe/Berlin", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    # 02:30 happens twice; the first is still summer time (UTC+2). The end is elapsed time.
    assert [(p.start_time, p.end_time) for p in planned] == [
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    ]
    assert skipped == []


def test_past_occurrences_are_skipped_as_slot_in_past():
    today = now_ms().date()
    planned, skipped = slot_rule_expand(
        rule=rule(
            start_date=today - timedelta(days=7),
            end_date=today + timedelta(days=7),
            weekdays=["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            times=[time(12)],
        ),
        zone="UTC",
        now=now_ms(),
    )
    assert all(p.start_time > now_ms() for p in planned)
    assert {s.reason for s in skipped} == {"SLOT_IN_PAST"}
    assert len(planned) + len(skipped) == 15


def test_rule_validation_overlap_and_size_limits():
    with pytest.raises(ValidationFailedError) as overlapping:
        slot_rule_expand(rule=rule(times=[time(9), time(9, 30)]), zone="UTC", now=now_ms())
    assert overlapping.value.details == [
        {"path": "rule.times", "message": "Rule produces overlapping slots"}
    ]
    with pytest.raises(ValidationFailedError) as too_many:
        slot_rule_expand(
            rule=rule(
                end_date=date(NEXT_YEAR, 12, 31),
                weekdays=["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
                times=[time(9), time(11)],
            ),
            zone="UTC",
            now=now_ms(),
        )
    assert too_many.value.details == [
        {"path": "rule", "message": "Rule produces more than 500 slots"}
    ]
    with pytest.raises(ValidationFailedError) as backwards:
        slot_rule_expand(rule=rule(end_date=MONDAY - timedelta(days=1)), zone="UTC", now=now_ms())
    assert backwards.value.details[0]["path"] == "rule.endDate"


def test_bulk_create_creates_all_in_one_go_with_audit_events():
    host = HostFactory.create(timezone="America/New_York")
    result = slot_bulk_create(host_id=host.pk, rule=rule(time_zone=None), source=EventSource.CLI)
    assert len(result.created) == 4
    # No time zone in the rule: the host's own zone.
    new_york = ZoneInfo("America/New_York")
    assert result.created[0].start_time == datetime.combine(MONDAY, time(9), new_york)
    events = SlotEvent.objects.filter(host=host, action=SlotEventAction.CREATED)
    assert events.count() == 4
    assert set(events.values_list("source", flat=True)) == {"cli"}
    assert set(events.values_list("actor_id", flat=True)) == {None}


def test_bulk_create_conflict_fails_whole_or_skips_with_skip_conflicts():
    host = HostFactory.create()
    slot_create(
        host_id=host.pk,
        start_time=datetime.combine(MONDAY, time(9, 30), UTC),
        end_time=datetime.combine(MONDAY, time(10, 30), UTC),
    )
    with pytest.raises(SlotOverlapError) as failed:
        slot_bulk_create(host_id=host.pk, rule=rule())
    assert failed.value.details == {
        "conflicts": [
            {"startTime": f"{MONDAY}T09:00:00.000Z", "endTime": f"{MONDAY}T10:00:00.000Z"}
        ]
    }
    assert Slot.objects.filter(host=host).count() == 1

    preview = slot_bulk_create(host_id=host.pk, rule=rule(), skip_conflicts=True, dry_run=True)
    assert len(preview.planned) == 3
    assert preview.created == []
    assert Slot.objects.filter(host=host).count() == 1

    result = slot_bulk_create(host_id=host.pk, rule=rule(), skip_conflicts=True)
    assert len(result.created) == 3
    assert [s.reason for s in result.skipped] == ["SLOT_OVERLAP"]


def test_bulk_create_needs_exactly_one_input_and_a_host():
    host = HostFactory.create()
    with pytest.raises(ValidationFailedError) as both:
        slot_bulk_create(
            host_id=host.pk,
            rule=rule(),
            slots=[
                PlannedSlot(now_ms() + timedelta(days=1), now_ms() + timedelta(days=1, hours=1))
            ],
        )
    assert both.value.details == [{"path": "", "message": "Provide exactly one of slots or rule"}]
    guest = UserFactory.create(roles=[Role.GUEST])
    with pytest.raises(NotAHostError):
        slot_bulk_create(host_id=guest.pk, rule=rule())


def test_slot_update_moves_free_slots_rechecks_overlap_and_refuses_booked_ones(guest):
    from bookings.services import booking_create

    host = HostFactory.create()
    start = now_ms().replace(microsecond=0) + timedelta(days=2)
    first = slot_create(host_id=host.pk, start_time=start, end_time=start + timedelta(hours=1))
    second = slot_create(
        host_id=host.pk, start_time=start + timedelta(hours=2), end_time=start + timedelta(hours=3)
    )
    with pytest.raises(SlotOverlapError):
        slot_update(slot_id=first.pk, end_time=start + timedelta(hours=2, minutes=30))
    moved = slot_update(
        slot_id=first.pk,
        start_time=start + timedelta(hours=5),
        end_time=start + timedelta(hours=6),
    )
    assert moved.start_time == start + timedelta(hours=5)
    event = SlotEvent.objects.get(slot_id=first.pk, action=SlotEventAction.UPDATED)
    assert (event.old_start_time, event.new_start_time) == (start, start + timedelta(hours=5))

    booking_create(user_id=guest.pk, slot_id=second.pk)
    with pytest.raises(SlotHasBookingError):
        slot_update(
            slot_id=second.pk,
            start_time=start + timedelta(hours=10),
            end_time=start + timedelta(hours=11),
        )
    second.refresh_from_db()
    assert second.start_time == start + timedelta(hours=2)
    assert second.status == SlotStatus.BOOKED


def test_slot_delete_writes_deleted_and_cancelled_events_that_outlive_the_row():
    host = HostFactory.create()
    slot = slot_create(
        host_id=host.pk,
        start_time=now_ms() + timedelta(days=1),
        end_time=now_ms() + timedelta(days=1, hours=1),
    )
    slot_delete(user_id=host.pk, slot_id=slot.pk)
    assert not Slot.objects.filter(pk=slot.pk).exists()
    actions = list(
        SlotEvent.objects.filter(slot_id=slot.pk)
        .order_by("created_at")
        .values_list("action", "actor_id")
    )
    assert actions == [("CREATED", host.pk), ("DELETED", host.pk)]
