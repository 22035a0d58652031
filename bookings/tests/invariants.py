"""SPEC §2.4 checked in plain SQL after every concurrency scenario."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def _rows(sql: str, params: tuple[int, ...] = ()) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def assert_booking_invariants() -> None:
    """No slot over capacity, counts and statuses match bookings, no user over the limits."""
    malformed = _rows("SELECT id FROM slots WHERE end_time <= start_time OR capacity < 1")
    assert malformed == [], f"slots ending before they start or without capacity: {malformed}"
    over_capacity = _rows(
        """SELECT slot_id, count(*) FROM bookings WHERE status = 'CONFIRMED'
           GROUP BY slot_id HAVING count(*) > (SELECT capacity FROM slots WHERE id = slot_id)"""
    )
    assert over_capacity == [], f"slots over capacity: {over_capacity}"
    wrong_count = _rows(
        """SELECT s.id, s.booked_count, count(b.id) FILTER (WHERE b.status = 'CONFIRMED')
           FROM slots s LEFT JOIN bookings b ON b.slot_id = s.id
           GROUP BY s.id
           HAVING s.booked_count <> count(b.id) FILTER (WHERE b.status = 'CONFIRMED')"""
    )
    assert wrong_count == [], f"booked_count differs from CONFIRMED bookings: {wrong_count}"
    wrong_status = _rows(
        """SELECT id, status, booked_count, capacity FROM slots WHERE NOT (
             (status = 'CANCELLED' AND booked_count = 0)
          OR (status = 'BOOKED' AND booked_count = capacity)
          OR (status = 'AVAILABLE' AND booked_count < capacity))"""
    )
    assert wrong_status == [], f"slot status does not match its count: {wrong_status}"
    duplicates = _rows(
        """SELECT slot_id, user_id FROM bookings WHERE status = 'CONFIRMED'
           GROUP BY slot_id, user_id HAVING count(*) > 1"""
    )
    assert duplicates == [], f"duplicate confirmed bookings: {duplicates}"
    over_limit = _rows(
        """SELECT b.user_id, count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
           WHERE b.status = 'CONFIRMED' AND s.start_time > now()
           GROUP BY b.user_id HAVING count(*) > %s""",
        (settings.MAX_ACTIVE_BOOKINGS,),
    )
    assert over_limit == [], f"users above MAX_ACTIVE_BOOKINGS: {over_limit}"
    per_host = _rows(
        """SELECT b.user_id, s.host_id, count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
           LEFT JOIN host_policies p ON p.host_id = s.host_id
           WHERE b.status = 'CONFIRMED' AND s.start_time > now()
           GROUP BY b.user_id, s.host_id, p.max_active_bookings_per_guest
           HAVING count(*) > coalesce(p.max_active_bookings_per_guest, 1)"""
    )
    # The host's per-guest limit: 1 (so two bookings breach it) unless the host's policy says more.
    assert per_host == [], (
        f"users with two active bookings on one host (or above its policy): {per_host}"
    )
    overlaps = _rows(
        """SELECT a.id, b.id FROM slots a JOIN slots b ON a.host_id = b.host_id AND a.id < b.id
           WHERE a.status <> 'CANCELLED' AND b.status <> 'CANCELLED'
             AND tstzrange(a.start_time, a.end_time, '[)')
                 && tstzrange(b.start_time, b.end_time, '[)')"""
    )
    assert overlaps == [], f"overlapping slots of one host: {overlaps}"
    cancelled_at = _rows(
        """SELECT id FROM bookings
           WHERE (status = 'CANCELLED') <> (cancelled_at IS NOT NULL)"""
    )
    assert cancelled_at == [], f"cancelledAt does not match status: {cancelled_at}"
    assert_hold_invariants()


def assert_hold_invariants() -> None:
    """Holds and the waitlist: held_count is the ACTIVE holds, bookings plus holds within the
    capacity, one active hold and one open entry per user and slot, offers point at a hold."""
    wrong_held = _rows(
        """SELECT s.id, s.held_count, count(h.id) FILTER (WHERE h.status = 'ACTIVE')
           FROM slots s LEFT JOIN holds h ON h.slot_id = s.id
           GROUP BY s.id
           HAVING s.held_count <> count(h.id) FILTER (WHERE h.status = 'ACTIVE')"""
    )
    assert wrong_held == [], f"held_count differs from ACTIVE holds: {wrong_held}"
    over = _rows(
        """SELECT s.id FROM slots s WHERE s.capacity < s.booked_count + (
             SELECT count(*) FROM holds h WHERE h.slot_id = s.id AND h.status = 'ACTIVE'
               AND h.expires_at > now())"""
    )
    assert over == [], f"slots with more bookings and active holds than places: {over}"
    two_holds = _rows(
        """SELECT slot_id, user_id FROM holds WHERE status = 'ACTIVE'
           GROUP BY slot_id, user_id HAVING count(*) > 1"""
    )
    assert two_holds == [], f"two active holds of one user on one slot: {two_holds}"
    consumed = _rows(
        """SELECT id FROM holds WHERE (status = 'CONSUMED') <> (booking_id IS NOT NULL)"""
    )
    assert consumed == [], f"bookingId does not match CONSUMED: {consumed}"
    two_entries = _rows(
        """SELECT slot_id, user_id FROM waitlist_entries WHERE status IN ('WAITING', 'OFFERED')
           GROUP BY slot_id, user_id HAVING count(*) > 1"""
    )
    assert two_entries == [], f"two open waitlist entries of one user on one slot: {two_entries}"
    offers = _rows(
        """SELECT e.id FROM waitlist_entries e LEFT JOIN holds h ON h.id = e.hold_id
           WHERE e.status = 'OFFERED' AND (h.id IS NULL OR h.user_id <> e.user_id
              OR h.slot_id <> e.slot_id OR h.status NOT IN ('ACTIVE', 'EXPIRED'))"""
    )
    assert offers == [], f"offered entries without their hold: {offers}"
