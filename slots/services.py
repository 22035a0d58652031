"""Use cases of the slots app: publishing and deleting slots."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from uuid import UUID
from zoneinfo import ZoneInfo

from accounts.locks import user_lock
from accounts.models import User
from core.api.fields import parse_time_zone
from core.audit import EventSource
from core.db.instants import format_instant, now_ms, truncate_ms
from core.db.transactions import in_service_transaction
from core.errors import NotAHostError, NotOwnerError, ValidationFailedError
from core.idempotency.records import IdempotencyClaim, idempotency_complete, idempotency_lock
from core.limits import (
    CAPACITY_MAX,
    CAPACITY_MIN,
    SLOT_DURATION_MAX_MINUTES,
    SLOT_DURATION_MIN_MINUTES,
)
from slots.errors import SlotHasBookingError, SlotNotFoundError, SlotOverlapError
from slots.events import slot_event_build, slot_events_record
from slots.hooks import slot_close, slot_settle
from slots.locks import slot_lock
from slots.models import Slot, SlotEventAction, SlotStatus
from slots.rules import WEEKDAYS, slot_status_for, slot_time_errors
from slots.webhooks import slot_webhook_emit
from webhooks.models import EventType

CAPACITY_MESSAGE = f"Capacity must be {CAPACITY_MIN} to {CAPACITY_MAX}"

SLOT_CONSTRAINTS = {"slots_no_overlap": SlotOverlapError}
NOT_SLOT_OWNER = "You can only delete your own slots"


def slot_overlaps(*, host_id: UUID, start_time: datetime, end_time: datetime) -> bool:
    """Whether a non-cancelled slot of the host overlaps [start_time, end_time)."""
    return (
        Slot.objects.filter(host_id=host_id, start_time__lt=end_time, end_time__gt=start_time)
        .exclude(status=SlotStatus.CANCELLED)
        .exists()
    )


def _record_created(
    slots: list[Slot],
    *,
    host: User,
    source: str,
    actor_id: UUID | None,
    request_id: str | None,
) -> None:
    """One CREATED audit event per new slot, inside the creating transaction. Through the API
    the host creates their own slots, so the host is the actor."""
    actor = host.pk if actor_id is None and source == EventSource.API else actor_id
    slot_events_record(
        slot_event_build(
            slot=slot,
            action=SlotEventAction.CREATED,
            source=source,
            actor_id=actor,
            request_id=request_id,
        )
        for slot in slots
    )
    # The outbox rows commit with the slots, or not at all.
    slot_webhook_emit(slots=slots, type=EventType.SLOT_CREATED)


def slot_create(
    *,
    host_id: UUID,
    start_time: datetime,
    end_time: datetime,
    capacity: int = 1,
    allow_past: bool = False,
    source: str = EventSource.API,
    actor_id: UUID | None = None,
    request_id: str | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Slot:
    """Publish a slot for the host, in its own transaction.

    Locks the host's user row, so two overlapping creations by one host are decided one after the
    other; the exclusion constraint slots_no_overlap stays the backstop. `allow_past`
    exists for seed_demo's demonstration slots only. The audit event (slot_events) commits with
    the slot; `actor_id` None on the API means the host acted, on other sources a command.
    Raises ValidationFailedError, NotAHostError, SlotOverlapError, UserNotFoundError.
    """
    start_time, end_time = truncate_ms(start_time), truncate_ms(end_time)
    errors = slot_time_errors(
        start_time=start_time, end_time=end_time, now=now_ms(), allow_past=allow_past
    )
    if not CAPACITY_MIN <= capacity <= CAPACITY_MAX:
        errors.append({"path": "capacity", "message": CAPACITY_MESSAGE})
    if errors:
        raise ValidationFailedError(details=errors)

    def work() -> Slot:
        if idempotency is not None:
            # Lock order: the idempotency record first; its success commits with the slot.
            idempotency_lock(claim=idempotency)
        host = user_lock(user_id=host_id)
        if not host.is_host:
            raise NotAHostError()
        if slot_overlaps(host_id=host.pk, start_time=start_time, end_time=end_time):
            raise SlotOverlapError()
        slot = Slot.objects.create(
            host=host, start_time=start_time, end_time=end_time, capacity=capacity
        )
        _record_created([slot], host=host, source=source, actor_id=actor_id, request_id=request_id)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=slot)
        return slot

    return in_service_transaction(work, constraint_errors=SLOT_CONSTRAINTS)


class SlotDeletion(enum.Enum):
    DELETED = "deleted"  # never had a booking: the row is gone
    CANCELLED = "cancelled"  # had bookings, all cancelled: kept with its history
    UNCHANGED = "unchanged"  # was already cancelled


def slot_delete(
    *,
    user_id: UUID,
    slot_id: UUID,
    source: str = EventSource.API,
    actor_id: UUID | None = None,
    request_id: str | None = None,
) -> SlotDeletion:
    """Delete the caller's slot, or cancel it when it has booking history.

    Locks the slot row FOR UPDATE (the row may be deleted) and decides on the locked state.
    The admin and commands pass the slot's host as `user_id` and themselves as `actor_id`
    (None for commands); the API's actor is `user_id`. The audit event commits with the change.
    Raises SlotNotFoundError, NotOwnerError, SlotHasBookingError.
    """
    host_id = Slot.objects.filter(pk=slot_id).values_list("host_id", flat=True).first()
    if host_id is None:
        raise SlotNotFoundError()
    if host_id != user_id:
        raise NotOwnerError(NOT_SLOT_OWNER)

    def work() -> SlotDeletion:
        slot = slot_lock(slot_id=slot_id, for_delete=True)
        if slot.status == SlotStatus.CANCELLED:
            return SlotDeletion.UNCHANGED
        if slot.booked_count > 0:
            raise SlotHasBookingError()
        actor = user_id if actor_id is None and source == EventSource.API else actor_id
        # Holds and waitlist entries end with the slot, and keep it as history if there were any.
        had_waiters = slot_close(slot)
        if had_waiters or slot.bookings.exists():
            cancelled_at = now_ms()
            Slot.objects.filter(pk=slot.pk).update(
                status=SlotStatus.CANCELLED, updated_at=cancelled_at
            )
            event = slot_event_build(
                slot=slot,
                action=SlotEventAction.CANCELLED,
                source=source,
                actor_id=actor,
                old=slot,
                new_status=SlotStatus.CANCELLED,
                request_id=request_id,
            )
            slot_events_record([event])
            slot.status, slot.updated_at = SlotStatus.CANCELLED, cancelled_at
            slot_webhook_emit(slots=[slot], type=EventType.SLOT_CANCELLED)
            return SlotDeletion.CANCELLED
        event = slot_event_build(
            slot=slot,
            action=SlotEventAction.DELETED,
            source=source,
            actor_id=actor,
            old=slot,
            request_id=request_id,
        )
        # Rendered before the row goes (a deleted slot is announced as cancelled).
        slot.status, slot.updated_at = SlotStatus.CANCELLED, now_ms()
        slot_webhook_emit(slots=[slot], type=EventType.SLOT_CANCELLED)
        slot.delete()
        slot_events_record([event])
        return SlotDeletion.DELETED

    return in_service_transaction(work)


# Bulk and recurring creation and admin edits ------------------------------------------------------
BULK_MAX_SLOTS = 500
BULK_MAX_DAYS = 366
NONEXISTENT_LOCAL_TIME = "NONEXISTENT_LOCAL_TIME"
SLOT_IN_PAST = "SLOT_IN_PAST"
SLOT_OVERLAP = "SLOT_OVERLAP"


@dataclass(frozen=True)
class SlotRule:
    """A weekly rule: dates, weekdays and local start times. `time_zone` None means the host's
    own zone."""

    start_date: date
    end_date: date
    weekdays: Sequence[str]
    times: Sequence[time]
    duration_minutes: int
    capacity: int = 1
    time_zone: str | None = None


@dataclass(frozen=True)
class PlannedSlot:
    start_time: datetime
    end_time: datetime
    capacity: int = 1


@dataclass(frozen=True)
class SkippedSlot:
    start_time: datetime
    end_time: datetime
    reason: str
    local: str = ""  # the wall-clock time the rule asked for, for people


@dataclass
class SlotBulkResult:
    """`created` is empty on a dry run, where `planned` says what would have been created."""

    planned: list[PlannedSlot] = field(default_factory=list)
    created: list[Slot] = field(default_factory=list)
    skipped: list[SkippedSlot] = field(default_factory=list)
    dry_run: bool = False


def _invalid(path: str, message: str) -> ValidationFailedError:
    return ValidationFailedError(details=[{"path": path, "message": message}])


def _rule_errors(rule: SlotRule) -> list[dict[str, str]]:
    errors = []
    if rule.end_date < rule.start_date:
        errors.append(
            {"path": "rule.endDate", "message": "End date must be on or after start date"}
        )
    elif (rule.end_date - rule.start_date).days + 1 > BULK_MAX_DAYS:
        errors.append(
            {"path": "rule.endDate", "message": f"Date range must not exceed {BULK_MAX_DAYS} days"}
        )
    if not rule.weekdays or len(set(rule.weekdays)) != len(rule.weekdays):
        errors.append({"path": "rule.weekdays", "message": "Weekdays must be non-empty and unique"})
    elif any(day not in WEEKDAYS for day in rule.weekdays):
        errors.append({"path": "rule.weekdays", "message": "Invalid weekday"})
    if not rule.times or len(set(rule.times)) != len(rule.times):
        errors.append({"path": "rule.times", "message": "Times must be non-empty and unique"})
    if not SLOT_DURATION_MIN_MINUTES <= rule.duration_minutes <= SLOT_DURATION_MAX_MINUTES:
        errors.append(
            {
                "path": "rule.durationMinutes",
                "message": f"Duration must be {SLOT_DURATION_MIN_MINUTES} to "
                f"{SLOT_DURATION_MAX_MINUTES} minutes",
            }
        )
    if not CAPACITY_MIN <= rule.capacity <= CAPACITY_MAX:
        errors.append({"path": "rule.capacity", "message": CAPACITY_MESSAGE})
    if rule.time_zone is not None and parse_time_zone(rule.time_zone) is None:
        errors.append({"path": "rule.timeZone", "message": "Invalid time zone"})
    return errors


def slot_rule_expand(
    *, rule: SlotRule, zone: str, now: datetime
) -> tuple[list[PlannedSlot], list[SkippedSlot]]:
    """The occurrences of `rule` in `zone`, ascending, and those skipped.

    A local time in a spring-forward gap is skipped (NONEXISTENT_LOCAL_TIME); an ambiguous one
    takes its first occurrence (fold=0); one starting at or before `now` is skipped
    (SLOT_IN_PAST). The end is the start plus the duration of elapsed time, computed in UTC.
    Raises ValidationFailedError for an invalid rule, more than 500 occurrences, or occurrences
    that overlap each other.
    """
    errors = _rule_errors(rule)
    if errors:
        raise ValidationFailedError(details=errors)
    tz = ZoneInfo(zone)
    length = timedelta(minutes=rule.duration_minutes)
    wanted_days = {WEEKDAYS.index(day) for day in rule.weekdays}
    occurrences: list[tuple[datetime, datetime, str]] = []
    skipped: list[SkippedSlot] = []
    day = rule.start_date
    while day <= rule.end_date:
        if day.weekday() in wanted_days:
            for wall in sorted(rule.times):
                local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the first occurrence
                start = local.astimezone(UTC)
                label = f"{day.isoformat()} {wall:%H:%M} {zone}"
                # A wall time in a gap does not survive the round trip through UTC.
                if start.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
                    skipped.append(
                        SkippedSlot(start, start + length, NONEXISTENT_LOCAL_TIME, label)
                    )
                    continue
                occurrences.append((start, start + length, label))
                if len(occurrences) > BULK_MAX_SLOTS:
                    raise _invalid("rule", f"Rule produces more than {BULK_MAX_SLOTS} slots")
        day += timedelta(days=1)
    occurrences.sort()
    for (_, previous_end, _), (start, _, _) in pairwise(occurrences):
        if start < previous_end:
            raise _invalid("rule.times", "Rule produces overlapping slots")
    planned = []
    for start, end, label in occurrences:
        if start <= now:
            skipped.append(SkippedSlot(start, end, SLOT_IN_PAST, label))
        else:
            planned.append(PlannedSlot(start, end, rule.capacity))
    skipped.sort(key=lambda item: item.start_time)
    return planned, skipped


def _explicit_slots(slots: Sequence[PlannedSlot], now: datetime) -> list[PlannedSlot]:
    if not 1 <= len(slots) <= BULK_MAX_SLOTS:
        raise _invalid("slots", f"Provide 1 to {BULK_MAX_SLOTS} slots")
    errors = []
    cleaned = []
    for index, item in enumerate(slots):
        start, end = truncate_ms(item.start_time), truncate_ms(item.end_time)
        for error in slot_time_errors(start_time=start, end_time=end, now=now):
            errors.append({**error, "path": f"slots.{index}.{error['path']}"})
        if not CAPACITY_MIN <= item.capacity <= CAPACITY_MAX:
            errors.append({"path": f"slots.{index}.capacity", "message": CAPACITY_MESSAGE})
        cleaned.append(PlannedSlot(start, end, item.capacity))
    if errors:
        raise ValidationFailedError(details=errors)
    ordered = sorted(cleaned, key=lambda item: item.start_time)
    if any(b.start_time < a.end_time for a, b in pairwise(ordered)):
        raise _invalid("slots", "Slots overlap each other")
    return ordered


def slot_bulk_create(
    *,
    host_id: UUID,
    rule: SlotRule | None = None,
    slots: Sequence[PlannedSlot] | None = None,
    skip_conflicts: bool = False,
    dry_run: bool = False,
    source: str = EventSource.API,
    actor_id: UUID | None = None,
    request_id: str | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> SlotBulkResult:
    """Create many slots for a host at once, from a weekly `rule` or a list of `slots`.

    One durable transaction under the host's user-row lock (the lock of slot_create), so nothing
    can slip in between the conflict check and the inserts; "now" is read after the lock. An
    occurrence overlapping an existing slot is skipped (SLOT_OVERLAP) with `skip_conflicts`,
    otherwise the whole call fails and nothing is created. `dry_run` plans without writing.
    With an `idempotency` claim (the API) the record is locked first and the answer is stored in
    it in the same transaction, as in slot_create.
    Raises ValidationFailedError, NotAHostError, SlotOverlapError (details.conflicts),
    UserNotFoundError, LockTimeoutError.
    """
    if (rule is None) == (slots is None):
        raise _invalid("", "Provide exactly one of slots or rule")

    def work() -> SlotBulkResult:
        if idempotency is not None:
            idempotency_lock(claim=idempotency)  # lock order: the record, then the host
        host = user_lock(user_id=host_id)
        if not host.is_host:
            raise NotAHostError()
        now = now_ms()
        if rule is not None:
            zone = rule.time_zone or host.timezone
            planned, skipped = slot_rule_expand(rule=rule, zone=zone, now=now)
        else:
            planned, skipped = _explicit_slots(slots or (), now), []
        result = SlotBulkResult(skipped=skipped, dry_run=dry_run)
        if planned:
            existing = list(
                Slot.objects.filter(
                    host_id=host.pk,
                    start_time__lt=planned[-1].end_time,
                    end_time__gt=planned[0].start_time,
                )
                .exclude(status=SlotStatus.CANCELLED)
                .values_list("start_time", "end_time")
            )
        conflicts = [
            item
            for item in planned
            if any(s < item.end_time and item.start_time < e for s, e in existing)
        ]
        if conflicts and not skip_conflicts:
            raise SlotOverlapError(
                details={
                    "conflicts": [
                        {
                            "startTime": format_instant(item.start_time),
                            "endTime": format_instant(item.end_time),
                        }
                        for item in conflicts
                    ]
                }
            )
        result.skipped += [SkippedSlot(c.start_time, c.end_time, SLOT_OVERLAP) for c in conflicts]
        result.skipped.sort(key=lambda item: item.start_time)
        result.planned = [item for item in planned if item not in conflicts]
        if not dry_run and result.planned:
            created = Slot.objects.bulk_create(
                Slot(host=host, start_time=p.start_time, end_time=p.end_time, capacity=p.capacity)
                for p in result.planned
            )
            for slot in created:
                slot.host = host  # the serializers read the host's name
            _record_created(
                created, host=host, source=source, actor_id=actor_id, request_id=request_id
            )
            result.created = created
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=result)
        return result

    return in_service_transaction(work, constraint_errors=SLOT_CONSTRAINTS)


def slot_update(
    *,
    slot_id: UUID,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    capacity: int | None = None,
    source: str = EventSource.ADMIN,
    actor_id: UUID | None = None,
    request_id: str | None = None,
) -> Slot:
    """Change a slot's times or capacity (the admin's edit form).

    Times change only while the slot has no CONFIRMED booking and is not cancelled; the new range
    must start in the future and must not overlap the host's other slots. Capacity never goes
    below the booked count, and the status is set to match in the same UPDATE. Locks the
    host's user row, then the slot row (the order of slot_create and booking_create), and decides
    on the locked state. Raises SlotNotFoundError, SlotHasBookingError, SlotOverlapError,
    ValidationFailedError, LockTimeoutError.
    """
    host_id = Slot.objects.filter(pk=slot_id).values_list("host_id", flat=True).first()
    if host_id is None:
        raise SlotNotFoundError()

    def work() -> Slot:
        user_lock(user_id=host_id)
        slot = slot_lock(slot_id=slot_id)
        old = Slot(
            pk=slot.pk,
            host_id=slot.host_id,
            start_time=slot.start_time,
            end_time=slot.end_time,
            capacity=slot.capacity,
            status=slot.status,
        )
        new_start = truncate_ms(start_time) if start_time is not None else slot.start_time
        new_end = truncate_ms(end_time) if end_time is not None else slot.end_time
        new_capacity = slot.capacity if capacity is None else capacity
        times_changed = (new_start, new_end) != (slot.start_time, slot.end_time)
        if slot.status == SlotStatus.CANCELLED and (times_changed or new_capacity != old.capacity):
            raise _invalid("status", "A cancelled slot cannot be changed")
        if times_changed:
            if slot.booked_count > 0:
                raise SlotHasBookingError(
                    "Cannot change the times of a slot with a confirmed booking"
                )
            errors = slot_time_errors(start_time=new_start, end_time=new_end, now=now_ms())
            if errors:
                raise ValidationFailedError(details=errors)
            overlapping = (
                Slot.objects.filter(host_id=host_id, start_time__lt=new_end, end_time__gt=new_start)
                .exclude(status=SlotStatus.CANCELLED)
                .exclude(pk=slot.pk)
                .exists()
            )
            if overlapping:
                raise SlotOverlapError()
        slot_settle(slot)  # lapsed holds no longer take places
        if not CAPACITY_MIN <= new_capacity <= CAPACITY_MAX:
            raise _invalid("capacity", CAPACITY_MESSAGE)
        if new_capacity < slot.booked_count + slot.held_count:
            if slot.held_count:
                raise _invalid(
                    "capacity",
                    f"Capacity cannot be below the {slot.booked_count} confirmed booking(s) and "
                    f"{slot.held_count} held place(s) of this slot",
                )
            raise _invalid(
                "capacity",
                f"Capacity cannot be below the {slot.booked_count} confirmed booking(s) of "
                "this slot; cancel bookings first",
            )
        if not times_changed and new_capacity == old.capacity:
            return slot
        slot.start_time, slot.end_time, slot.capacity = new_start, new_end, new_capacity
        # The status must match the new capacity in the same UPDATE, or the CHECKs refuse it.
        slot.status = slot_status_for(
            status=slot.status, capacity=new_capacity, booked_count=slot.booked_count
        )
        slot.save(update_fields=["start_time", "end_time", "capacity", "status"])
        if new_capacity > old.capacity:
            slot_settle(slot)  # the new places go to the waitlist first
        event = slot_event_build(
            slot=slot,
            action=SlotEventAction.UPDATED,
            source=source,
            actor_id=actor_id,
            old=old,
            request_id=request_id,
        )
        slot_events_record([event])
        return slot

    return in_service_transaction(work, constraint_errors=SLOT_CONSTRAINTS)
