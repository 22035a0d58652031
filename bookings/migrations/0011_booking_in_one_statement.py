"""booking_book_statement(): a booking of a slot without holds as one statement.

A booking with neither an idempotency key nor a hold, of a slot that holds no place, needs
nothing from Python between its reads and writes. This function runs it whole, so the service
sends it in autocommit as a single statement, which PostgreSQL commits on its own: no BEGIN,
unlocked pre-read, outbox insert or COMMIT round trips around booking_book().

- It starts with the unlocked pre-read, booking_precheck(), which the service's transactional
  path runs too: a missing or taken slot is answered without a lock. A free slot whose row counts
  holds answers TRANSACTION_NEEDED before any lock or write: lapsed holds may owe their places
  to the waitlist, which Python offers.
- It then calls booking_book(), which takes the locks in the documented order (user, then slot)
  and checks every rule. If holds appeared on the slot in between, so that booking_book() asks
  for waitlist offers (OFFER_FIRST, offer_needed), it raises SQLSTATE SB001: the statement's
  writes are undone and the service books again in a transaction.
- On BOOKED it writes the booking.created event to the webhook outbox in the same statement, so
  the event exists if and only if the booking does, and returns the new deliveries.

booking_json() renders the Booking representation of the API exactly as the Python serializer
does (the tests compare the two texts byte for byte).
"""

from django.db import migrations

INSTANT = """
CREATE OR REPLACE FUNCTION api_instant(value timestamptz) RETURNS text
LANGUAGE sql STABLE AS $fn$
    -- 2026-02-01T10:00:00.000Z: UTC, three fraction digits, truncated.
    SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$fn$;
"""

PRECHECK = """
-- The unlocked pre-read of a booking: SLOT_NOT_AVAILABLE when the slot is not AVAILABLE or has no
-- place left, counting only holds still ahead of `now` (held_count may still count lapsed ones
-- not yet marked EXPIRED); NULL when it may be bookable; no row when there is no such slot. It
-- refuses only what the locked checks would refuse first on the same committed state.
CREATE OR REPLACE FUNCTION booking_precheck(slot_id uuid, now timestamptz)
RETURNS TABLE (outcome text, held_count integer) LANGUAGE sql STABLE AS $fn$
    SELECT CASE
               WHEN s.status <> 'AVAILABLE' OR s.booked_count >= s.capacity THEN 'SLOT_NOT_AVAILABLE'
               WHEN s.booked_count + s.held_count < s.capacity THEN NULL
               WHEN s.booked_count + (SELECT count(*) FROM holds h
                                       WHERE h.slot_id = s.id AND h.status = 'ACTIVE'
                                         AND h.expires_at > now) < s.capacity THEN NULL
               ELSE 'SLOT_NOT_AVAILABLE'
           END,
           s.held_count
      FROM slots s WHERE s.id = booking_precheck.slot_id
$fn$;
"""

BOOKING_JSON = """
CREATE OR REPLACE FUNCTION booking_json(
    booking_id uuid, slot_id uuid, user_id uuid, status varchar, cancelled_at timestamptz,
    created_at timestamptz, updated_at timestamptz, host_id uuid, host_name varchar,
    start_time timestamptz, end_time timestamptz, slot_status varchar
) RETURNS text LANGUAGE sql STABLE AS $fn$
    SELECT '{"id":"' || booking_id || '","slotId":"' || slot_id || '","userId":"' || user_id
        || '","status":' || to_json(status)::text
        || ',"cancelledAt":' || COALESCE(to_json(api_instant(cancelled_at))::text, 'null')
        || ',"slot":{"id":"' || slot_id || '","hostId":"' || host_id
        || '","hostName":' || to_json(host_name)::text
        || ',"startTime":"' || api_instant(start_time) || '","endTime":"' || api_instant(end_time)
        || '","status":' || to_json(slot_status)::text
        || '},"createdAt":"' || api_instant(created_at) || '","updatedAt":"'
        || api_instant(updated_at) || '"}'
$fn$;
"""

BOOKING_BOOK_STATEMENT = """
CREATE OR REPLACE FUNCTION booking_book_statement(
    user_id uuid, slot_id uuid, booking_id uuid,
    source varchar, actor_id uuid, request_id varchar,
    take_locks boolean, delay_before_write double precision, lock_timeout_ms integer,
    max_active integer, default_min_notice integer, default_max_horizon integer,
    default_per_guest integer,
    OUT outcome text, OUT amount integer, OUT booked_at timestamptz,
    OUT slot_host_id uuid, OUT slot_host_name varchar, OUT slot_start_time timestamptz,
    OUT slot_end_time timestamptz, OUT slot_status varchar, OUT slot_capacity integer,
    OUT slot_booked_count integer, OUT slot_held_count integer,
    OUT slot_created_at timestamptz, OUT slot_updated_at timestamptz,
    OUT delivery_ids uuid[]
) LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    seen record;
    booked record;
    event_id uuid;
BEGIN
    SELECT p.outcome, p.held_count INTO seen
      FROM booking_precheck(booking_book_statement.slot_id, clock_timestamp()) p;
    IF NOT FOUND THEN outcome := 'SLOT_NOT_FOUND'; RETURN; END IF;
    IF seen.outcome IS NOT NULL THEN outcome := seen.outcome; RETURN; END IF;
    IF seen.held_count > 0 THEN outcome := 'TRANSACTION_NEEDED'; RETURN; END IF;

    SELECT * INTO booked
      FROM booking_book(booking_book_statement.user_id, booking_book_statement.slot_id, NULL,
                        booking_book_statement.booking_id, source, actor_id, request_id, NULL,
                        take_locks, delay_before_write, lock_timeout_ms, max_active,
                        default_min_notice, default_max_horizon, default_per_guest);
    IF booked.outcome = 'OFFER_FIRST' OR booked.offer_needed THEN
        RAISE EXCEPTION 'the booking of slot % needs waitlist offers', slot_id
              USING ERRCODE = 'SB001';
    END IF;
    outcome := booked.outcome;
    amount := booked.amount;
    IF outcome <> 'BOOKED' THEN RETURN; END IF;

    booked_at := booked.booked_at;
    slot_host_id := booked.slot_host_id;
    slot_host_name := booked.slot_host_name;
    slot_start_time := booked.slot_start_time;
    slot_end_time := booked.slot_end_time;
    slot_status := booked.slot_status;
    slot_capacity := booked.slot_capacity;
    slot_booked_count := booked.slot_booked_count;
    slot_held_count := booked.slot_held_count;
    slot_created_at := booked.slot_created_at;
    slot_updated_at := booked.slot_updated_at;

    event_id := gen_random_uuid();
    INSERT INTO webhook_events (id, type, body, created_at, updated_at)
    VALUES (event_id, 'booking.created',
            '{"id":"' || event_id || '","type":"booking.created","createdAt":"'
            || api_instant(booked_at) || '","data":'
            || booking_json(booking_book_statement.booking_id, booking_book_statement.slot_id,
                            booking_book_statement.user_id, 'CONFIRMED', NULL, booked_at,
                            booked_at, slot_host_id, slot_host_name, slot_start_time,
                            slot_end_time, slot_status)
            || '}',
            booked_at, booked_at);
    WITH delivered AS (
        INSERT INTO webhook_deliveries
            (id, event_id, endpoint_id, status, attempt_count, series_start, next_attempt_at,
             created_at, updated_at)
        SELECT gen_random_uuid(), event_id, e.id, 'PENDING', 0, 0, booked_at, booked_at, booked_at
          FROM webhook_endpoints_for('booking.created',
                                     ARRAY[booking_book_statement.user_id, slot_host_id]) AS e(id)
        RETURNING id
    )
    SELECT COALESCE(array_agg(d.id), '{}') INTO delivery_ids FROM delivered d;
END
$fn$;
"""

DROP = """
DROP FUNCTION IF EXISTS booking_book_statement(uuid, uuid, uuid, varchar, uuid, varchar, boolean,
    double precision, integer, integer, integer, integer, integer);
DROP FUNCTION IF EXISTS booking_json(uuid, uuid, uuid, varchar, timestamptz, timestamptz,
    timestamptz, uuid, varchar, timestamptz, timestamptz, varchar);
DROP FUNCTION IF EXISTS api_instant(timestamptz);
DROP FUNCTION IF EXISTS booking_precheck(uuid, timestamptz);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0010_host_booking_blocks"),
        ("webhooks", "0002_webhook_endpoints_for"),
    ]

    operations = [
        migrations.RunSQL(PRECHECK + INSTANT + BOOKING_JSON + BOOKING_BOOK_STATEMENT, DROP)
    ]
