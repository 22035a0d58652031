"""The data invariants in SQL, one query per invariant returning its offenders: proved over the
whole database by `check_integrity`, and after every concurrency test scenario.

Breaches (CHECKS) can only come from a defect, since constraints and the trigger hold them;
WARNINGS are limits a user may exceed legitimately after the limit was lowered.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class Check:
    code: str
    title: str
    sql: str
    columns: tuple[str, ...]


# Each query returns the offenders of one invariant; an empty result proves it.
CHECKS = (
    Check(
        "I1",
        "slot ends after it starts",
        "SELECT id, start_time, end_time FROM slots WHERE end_time <= start_time",
        ("slotId", "startTime", "endTime"),
    ),
    Check(
        "I2",
        "capacity is at least 1",
        "SELECT id, capacity FROM slots WHERE capacity < 1",
        ("slotId", "capacity"),
    ),
    Check(
        "I3",
        "no slot has more confirmed bookings than its capacity",
        """SELECT s.id, s.capacity, count(b.id) FROM slots s
           JOIN bookings b ON b.slot_id = s.id AND b.status = 'CONFIRMED'
           GROUP BY s.id, s.capacity HAVING count(b.id) > s.capacity
           UNION ALL
           SELECT id, capacity, booked_count FROM slots
           WHERE booked_count < 0 OR booked_count > capacity""",
        ("slotId", "capacity", "confirmed"),
    ),
    Check(
        "I4",
        "booked_count equals the slot's CONFIRMED bookings",
        """SELECT s.id, s.booked_count, count(b.id) FROM slots s
           LEFT JOIN bookings b ON b.slot_id = s.id AND b.status = 'CONFIRMED'
           GROUP BY s.id, s.booked_count HAVING s.booked_count <> count(b.id)""",
        ("slotId", "bookedCount", "confirmed"),
    ),
    Check(
        "I5",
        "at most one CONFIRMED booking per slot and user",
        """SELECT slot_id, user_id, count(*) FROM bookings WHERE status = 'CONFIRMED'
           GROUP BY slot_id, user_id HAVING count(*) > 1""",
        ("slotId", "userId", "confirmed"),
    ),
    Check(
        "I6",
        "slot status matches its bookings",
        """SELECT s.id, s.status, s.capacity, count(b.id) FROM slots s
           LEFT JOIN bookings b ON b.slot_id = s.id AND b.status = 'CONFIRMED'
           GROUP BY s.id HAVING NOT (
                (s.status = 'CANCELLED' AND count(b.id) = 0 AND s.booked_count = 0)
             OR (s.status = 'BOOKED' AND count(b.id) = s.capacity)
             OR (s.status = 'AVAILABLE' AND count(b.id) < s.capacity))""",
        ("slotId", "status", "capacity", "confirmed"),
    ),
    Check(
        "I7",
        "a host's non-cancelled slots do not overlap",
        """SELECT a.host_id, a.id, b.id FROM slots a
           JOIN slots b ON a.host_id = b.host_id AND a.id < b.id
           WHERE a.status <> 'CANCELLED' AND b.status <> 'CANCELLED'
             AND tstzrange(a.start_time, a.end_time, '[)')
                 && tstzrange(b.start_time, b.end_time, '[)')""",
        ("hostId", "slotId", "otherSlotId"),
    ),
    Check(
        "I8",
        "cancelledAt is set exactly when a booking is CANCELLED",
        """SELECT id, status, cancelled_at FROM bookings
           WHERE (status = 'CANCELLED') <> (cancelled_at IS NOT NULL)""",
        ("bookingId", "status", "cancelledAt"),
    ),
    Check(
        "I9",
        "emails unique ignoring case; roles valid",
        """SELECT lower(email), count(*)::text FROM users GROUP BY lower(email) HAVING count(*) > 1
           UNION ALL
           SELECT email, array_to_string(roles, ',') FROM users
           WHERE NOT roles <@ '{HOST,GUEST}' OR cardinality(roles) < 1""",
        ("email", "detail"),
    ),
    Check(
        "H1",
        "held_count equals the slot's ACTIVE holds",
        """SELECT s.id, s.held_count, count(h.id) FROM slots s
           LEFT JOIN holds h ON h.slot_id = s.id AND h.status = 'ACTIVE'
           GROUP BY s.id, s.held_count HAVING s.held_count <> count(h.id)""",
        ("slotId", "heldCount", "active"),
    ),
    Check(
        "H2",
        "confirmed bookings plus held places within the capacity",
        """SELECT id, capacity, booked_count, held_count FROM slots
           WHERE held_count < 0 OR booked_count + held_count > capacity""",
        ("slotId", "capacity", "bookedCount", "heldCount"),
    ),
    Check(
        "H3",
        "at most one ACTIVE hold and one open waitlist entry per slot and user",
        """SELECT slot_id, user_id, 'holds' FROM holds WHERE status = 'ACTIVE'
           GROUP BY slot_id, user_id HAVING count(*) > 1
           UNION ALL
           SELECT slot_id, user_id, 'waitlist' FROM waitlist_entries
           WHERE status IN ('WAITING', 'OFFERED')
           GROUP BY slot_id, user_id HAVING count(*) > 1""",
        ("slotId", "userId", "table"),
    ),
    Check(
        "H4",
        "a hold names its booking exactly when it is CONSUMED",
        "SELECT id, status FROM holds WHERE (status = 'CONSUMED') <> (booking_id IS NOT NULL)",
        ("holdId", "status"),
    ),
    Check(
        "H5",
        "an OFFERED waitlist entry points at its user's hold on that slot",
        """SELECT e.id, e.hold_id FROM waitlist_entries e LEFT JOIN holds h ON h.id = e.hold_id
           WHERE e.status = 'OFFERED' AND (h.id IS NULL OR h.user_id <> e.user_id
              OR h.slot_id <> e.slot_id OR h.status NOT IN ('ACTIVE', 'EXPIRED'))""",
        ("entryId", "holdId"),
    ),
    # The analytics rollups (triggers bookings_rollup, slots_rollup) equal what they summarise.
    Check(
        "R1",
        "booking_quarters equals the bookings per 15-minute bucket of createdAt",
        """SELECT bucket, concat(coalesce(r.total, 0), '/', coalesce(r.cancelled, 0)),
                  concat(coalesce(b.total, 0), '/', coalesce(b.cancelled, 0))
             FROM (SELECT bucket, sum(total) AS total, sum(cancelled) AS cancelled
                     FROM booking_quarters GROUP BY bucket) AS r
             FULL JOIN (SELECT date_bin('15 minutes', created_at,
                                        TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                               count(*) AS total,
                               count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled
                          FROM bookings GROUP BY 1) AS b USING (bucket)
            WHERE coalesce(r.total, 0) <> coalesce(b.total, 0)
               OR coalesce(r.cancelled, 0) <> coalesce(b.cancelled, 0)""",
        ("bucket", "rollupTotalCancelled", "bookingsTotalCancelled"),
    ),
    Check(
        "R2",
        "host_booking_blocks equals the CONFIRMED bookings per UTC day and host",
        """SELECT day, host_id, coalesce(r.confirmed, 0), coalesce(b.confirmed, 0)
             FROM (SELECT block + (i - 1)::integer AS day, host_id,
                          -- NULL (an offender) unless the block is aligned and whole
                          CASE WHEN cardinality(cum) = 32
                                AND mod(block - DATE '2000-01-01', 32) = 0
                               THEN running - coalesce(lag(running) OVER (
                                        PARTITION BY block, host_id ORDER BY i), 0)
                          END AS confirmed
                     FROM host_booking_blocks, unnest(cum) WITH ORDINALITY AS u(running, i)
                  ) AS r
             FULL JOIN (SELECT (bk.created_at AT TIME ZONE 'UTC')::date AS day, s.host_id,
                               count(*) AS confirmed
                          FROM bookings bk JOIN slots s ON s.id = bk.slot_id
                         WHERE bk.status = 'CONFIRMED' GROUP BY 1, 2) AS b USING (day, host_id)
            WHERE r.confirmed IS DISTINCT FROM coalesce(b.confirmed, 0)""",
        ("day", "hostId", "rollup", "confirmed"),
    ),
    Check(
        "R3",
        "slot_quarters equals the capacity and booked_count of non-cancelled slots per bucket",
        """SELECT bucket, concat(coalesce(r.capacity, 0), '/', coalesce(r.booked, 0)),
                  concat(coalesce(s.capacity, 0), '/', coalesce(s.booked, 0))
             FROM (SELECT bucket, sum(capacity) AS capacity, sum(booked) AS booked
                     FROM slot_quarters GROUP BY bucket) AS r
             FULL JOIN (SELECT date_bin('15 minutes', start_time,
                                        TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                               sum(capacity) AS capacity, sum(booked_count) AS booked
                          FROM slots WHERE status <> 'CANCELLED' GROUP BY 1) AS s USING (bucket)
            WHERE coalesce(r.capacity, 0) <> coalesce(s.capacity, 0)
               OR coalesce(r.booked, 0) <> coalesce(s.booked, 0)""",
        ("bucket", "rollupCapacityBooked", "slotsCapacityBooked"),
    ),
)
WARNINGS = (
    Check(
        "W1",
        "users above today's MAX_ACTIVE_BOOKINGS (a limit that may have changed)",
        """SELECT b.user_id, count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
           WHERE b.status = 'CONFIRMED' AND s.start_time > now()
           GROUP BY b.user_id HAVING count(*) > %(max_active)s""",
        ("userId", "activeBookings"),
    ),
    Check(
        "W2",
        "users with two active bookings on one host, or more than the host's policy allows",
        """SELECT b.user_id, s.host_id, count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
           LEFT JOIN host_policies p ON p.host_id = s.host_id
           WHERE b.status = 'CONFIRMED' AND s.start_time > now()
           GROUP BY b.user_id, s.host_id, p.max_active_bookings_per_guest
           HAVING count(*) > coalesce(p.max_active_bookings_per_guest, 1)""",
        ("userId", "hostId", "activeBookings"),
    ),
)


def invariant_offenders(check: Check) -> list[dict[str, str]]:
    """The rows that break `check`, each as {column: text}; empty when it holds."""
    with connection.cursor() as cursor:
        cursor.execute(check.sql, {"max_active": settings.MAX_ACTIVE_BOOKINGS})
        return [
            {name: str(value) for name, value in zip(check.columns, row, strict=True)}
            for row in cursor.fetchall()
        ]
