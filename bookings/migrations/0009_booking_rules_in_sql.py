"""The booking rules, the booking and the cancellation as SQL functions, so that a booking is
decided and written in one round trip under the same locks, in the same order, as before.

booking_refusal() is the one statement of the booking rules, shared by booking, holding a place
and rescheduling. booking_book() is a booking from the user lock to the audit row, and
booking_cancel() a cancellation from the slot lock to the audit row. They run
inside the caller's transaction; the constraints and triggers on the tables stay the backstop.
"""

from django.db import migrations

BOOKING_REFUSAL = """
-- Why `slot` may not be booked by `user` at `now`, or NULL (with the limit that the message
-- names in `amount`). Under the caller's user and slot locks, after lapsed holds were marked
-- EXPIRED, so held_count counts only holds still ahead. The checks run in the order the API
-- answers them. `own_hold`: the caller holds one of the slot's places. `moving_id`: a booking of
-- the caller that is being moved here (a reschedule), left out of the caller's counts. The
-- defaults are the policy of a host who never stored one.
CREATE OR REPLACE FUNCTION booking_refusal(
    user_id uuid, slot_id uuid, now timestamptz, own_hold boolean, moving_id uuid,
    max_active integer, default_min_notice integer, default_max_horizon integer,
    default_per_guest integer, OUT reason text, OUT amount integer
) LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    slot slots%ROWTYPE;
    free integer;
    min_notice integer := default_min_notice;
    max_horizon integer := default_max_horizon;
    per_guest integer := default_per_guest;
    on_slot bigint;
    upcoming bigint;
    with_host bigint;
BEGIN
    SELECT * INTO slot FROM slots WHERE id = booking_refusal.slot_id;
    free := CASE WHEN slot.status = 'AVAILABLE'
                 THEN greatest(slot.capacity - slot.booked_count - slot.held_count, 0) ELSE 0 END;
    IF free + (CASE WHEN own_hold THEN 1 ELSE 0 END) = 0 THEN
        reason := 'SLOT_NOT_AVAILABLE'; RETURN;
    END IF;
    IF slot.start_time <= now THEN
        reason := 'SLOT_IN_PAST'; RETURN;
    END IF;
    IF slot.host_id = booking_refusal.user_id THEN
        reason := 'BOOKING_OWN_SLOT'; RETURN;
    END IF;
    -- One read of the caller's CONFIRMED bookings serves the three per-user rules.
    SELECT count(*) FILTER (WHERE b.slot_id = booking_refusal.slot_id),
           count(*) FILTER (WHERE s.start_time > now),
           count(*) FILTER (WHERE s.start_time > now AND s.host_id = slot.host_id)
      INTO on_slot, upcoming, with_host
      FROM bookings b JOIN slots s ON s.id = b.slot_id
     WHERE b.user_id = booking_refusal.user_id AND b.status = 'CONFIRMED'
       AND b.id IS DISTINCT FROM moving_id;
    IF on_slot > 0 THEN
        reason := 'ALREADY_BOOKED'; RETURN;
    END IF;
    SELECT p.min_notice_minutes, p.max_horizon_days, p.max_active_bookings_per_guest
      INTO min_notice, max_horizon, per_guest
      FROM host_policies p WHERE p.host_id = slot.host_id;
    IF NOT FOUND THEN
        min_notice := default_min_notice;
        max_horizon := default_max_horizon;
        per_guest := default_per_guest;
    END IF;
    -- Durations in fixed units: a day is 24 hours whatever the session's time zone.
    IF slot.start_time < now + make_interval(mins => min_notice) THEN
        reason := 'BOOKING_NOTICE_TOO_SHORT'; amount := min_notice; RETURN;
    END IF;
    IF max_horizon IS NOT NULL AND slot.start_time > now + make_interval(hours => 24 * max_horizon)
    THEN
        reason := 'BOOKING_BEYOND_HORIZON'; amount := max_horizon; RETURN;
    END IF;
    IF upcoming >= max_active THEN
        reason := 'MAX_ACTIVE_BOOKINGS'; amount := max_active; RETURN;
    END IF;
    IF with_host >= per_guest THEN
        reason := CASE WHEN per_guest = 1 THEN 'HOST_ALREADY_BOOKED' ELSE 'HOST_BOOKING_LIMIT' END;
        amount := per_guest;
    END IF;
END
$fn$;
"""

HOLDS_EXPIRE_LAPSED = """
-- A lapsed hold takes no place: mark the slot's ACTIVE holds whose expiry has passed EXPIRED,
-- and the waitlist offers they were; true if there were any. Under the slot's lock.
CREATE OR REPLACE FUNCTION slot_holds_expire_lapsed(slot_id uuid, now timestamptz)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    lapsed uuid[];
BEGIN
    WITH expired AS (
        UPDATE holds h SET status = 'EXPIRED', updated_at = now
         WHERE h.slot_id = slot_holds_expire_lapsed.slot_id AND h.status = 'ACTIVE'
           AND h.expires_at <= now
        RETURNING h.id
    ) SELECT array_agg(id) INTO lapsed FROM expired;
    IF lapsed IS NULL THEN
        RETURN false;
    END IF;
    UPDATE waitlist_entries w SET status = 'EXPIRED', updated_at = now
     WHERE w.hold_id = ANY (lapsed) AND w.status = 'OFFERED';
    RETURN true;
END
$fn$;
"""

BOOKING_BOOK = """
-- Book `slot_id` for `user_id` as booking `booking_id`, inside the caller's transaction: lock
-- the user row, then the slot row (FOR NO KEY UPDATE: rows that only reference them are not
-- blocked); mark the slot's lapsed holds EXPIRED; check the named hold; apply booking_refusal();
-- consume the hold; insert the booking (the trigger counts it on the slot) and its audit event.
-- `outcome` is BOOKED, a refusal reason (nothing written; the caller rolls back), or OFFER_FIRST:
-- lapsed holds freed places that WAITING entries are owed first; the caller offers them and
-- calls again in the same transaction. `offer_needed`: the booking released another hold of the
-- guest on this slot, whose place the caller offers on. The slot's columns come back as the
-- booking left them, with the host's name. Without `take_locks` (control tests only) nothing is
-- locked, to show the race the locks prevent. `lock_timeout_ms` bounds every lock wait of the
-- transaction, as SET LOCAL lock_timeout would, without a round trip of its own.
CREATE OR REPLACE FUNCTION booking_book(
    user_id uuid, slot_id uuid, hold_id uuid, booking_id uuid,
    source varchar, actor_id uuid, request_id varchar, idempotency_key varchar,
    take_locks boolean, delay_before_write double precision, lock_timeout_ms integer,
    max_active integer, default_min_notice integer, default_max_horizon integer,
    default_per_guest integer,
    OUT outcome text, OUT amount integer, OUT booked_at timestamptz, OUT offer_needed boolean,
    OUT slot_host_id uuid, OUT slot_host_name varchar, OUT slot_start_time timestamptz,
    OUT slot_end_time timestamptz, OUT slot_status varchar, OUT slot_capacity integer,
    OUT slot_booked_count integer, OUT slot_held_count integer,
    OUT slot_created_at timestamptz, OUT slot_updated_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    slot slots%ROWTYPE;
    hold holds%ROWTYPE;
    had_holds boolean;
BEGIN
    offer_needed := false;
    IF lock_timeout_ms IS NOT NULL THEN  -- else the caller bounded the transaction's lock waits
        PERFORM set_config('lock_timeout', lock_timeout_ms::text, true);
    END IF;
    IF take_locks THEN
        PERFORM 1 FROM users u WHERE u.id = booking_book.user_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN outcome := 'USER_NOT_FOUND'; RETURN; END IF;
        SELECT * INTO slot FROM slots s WHERE s.id = booking_book.slot_id FOR NO KEY UPDATE;
    ELSE
        PERFORM 1 FROM users u WHERE u.id = booking_book.user_id;
        IF NOT FOUND THEN outcome := 'SLOT_NOT_FOUND'; RETURN; END IF;
        SELECT * INTO slot FROM slots s WHERE s.id = booking_book.slot_id;
    END IF;
    IF NOT FOUND THEN outcome := 'SLOT_NOT_FOUND'; RETURN; END IF;
    -- "now" is read after the locks: a wait for them must not make it stale.
    booked_at := date_trunc('milliseconds', clock_timestamp());

    -- A lapsed hold takes no place: mark it EXPIRED (and the offer it was) before checking.
    IF slot.held_count > 0 THEN
        IF slot_holds_expire_lapsed(booking_book.slot_id, booked_at) THEN
            IF EXISTS (SELECT 1 FROM waitlist_entries w
                        WHERE w.slot_id = booking_book.slot_id AND w.status = 'WAITING') THEN
                outcome := 'OFFER_FIRST'; RETURN;
            END IF;
            SELECT * INTO slot FROM slots s WHERE s.id = booking_book.slot_id;
        END IF;
    END IF;
    had_holds := slot.held_count > 0;

    IF booking_book.hold_id IS NOT NULL THEN
        IF take_locks THEN
            SELECT * INTO hold FROM holds h
             WHERE h.id = booking_book.hold_id AND h.user_id = booking_book.user_id
               FOR NO KEY UPDATE;
        ELSE
            SELECT * INTO hold FROM holds h
             WHERE h.id = booking_book.hold_id AND h.user_id = booking_book.user_id;
        END IF;
        IF NOT FOUND THEN outcome := 'HOLD_NOT_FOUND'; RETURN; END IF;
        IF hold.slot_id <> booking_book.slot_id THEN outcome := 'HOLD_SLOT_MISMATCH'; RETURN; END IF;
        IF NOT (hold.status = 'ACTIVE' AND hold.expires_at > booked_at) THEN
            outcome := 'HOLD_EXPIRED'; RETURN;
        END IF;
    END IF;

    SELECT r.reason, r.amount INTO outcome, amount
      FROM booking_refusal(booking_book.user_id, booking_book.slot_id, booked_at,
                           booking_book.hold_id IS NOT NULL, NULL, max_active,
                           default_min_notice, default_max_horizon, default_per_guest) r;
    IF outcome IS NOT NULL THEN RETURN; END IF;

    IF delay_before_write > 0 THEN
        PERFORM pg_sleep(delay_before_write);  -- control tests: widen the race window
    END IF;
    IF booking_book.hold_id IS NOT NULL THEN
        -- The hold's place passes to the booking without ever counting twice (its reference to
        -- the booking is checked at commit, as every foreign key is).
        UPDATE holds h SET status = 'CONSUMED', booking_id = booking_book.booking_id,
                           updated_at = booked_at
         WHERE h.id = booking_book.hold_id;
    END IF;
    INSERT INTO bookings (id, created_at, updated_at, status, cancelled_at, slot_id, user_id)
    VALUES (booking_book.booking_id, booked_at, booked_at, 'CONFIRMED', NULL,
            booking_book.slot_id, booking_book.user_id);
    -- The guest's open waitlist entry is done, and a hold of theirs the booking did not use is
    -- released. Without a hold used and no place held, the guest can have neither.
    IF booking_book.hold_id IS NOT NULL OR had_holds THEN
        UPDATE waitlist_entries w SET status = 'BOOKED', updated_at = booked_at
         WHERE w.slot_id = booking_book.slot_id AND w.user_id = booking_book.user_id
           AND w.status IN ('WAITING', 'OFFERED');
        UPDATE holds h SET status = 'RELEASED', updated_at = booked_at
         WHERE h.slot_id = booking_book.slot_id AND h.user_id = booking_book.user_id
           AND h.status = 'ACTIVE';
        offer_needed := FOUND;
    END IF;
    INSERT INTO booking_events (id, created_at, action, source, old_status, new_status, reason,
                                request_id, idempotency_key, actor_id, booking_id, new_slot_id,
                                old_slot_id)
    VALUES (gen_random_uuid(), booked_at, 'CREATED', source, NULL, 'CONFIRMED', NULL,
            request_id, idempotency_key, actor_id, booking_book.booking_id,
            booking_book.slot_id, NULL);

    SELECT s.host_id, u.name, s.start_time, s.end_time, s.status, s.capacity, s.booked_count,
           s.held_count, s.created_at, s.updated_at
      INTO slot_host_id, slot_host_name, slot_start_time, slot_end_time, slot_status,
           slot_capacity, slot_booked_count, slot_held_count, slot_created_at, slot_updated_at
      FROM slots s JOIN users u ON u.id = s.host_id
     WHERE s.id = booking_book.slot_id;
    outcome := 'BOOKED';
END
$fn$;
"""

BOOKING_CANCEL = """
-- Cancel booking `booking_id` of slot `slot_id` (as read before the transaction), inside the
-- caller's transaction: lock the slot row, then the booking row, so a stale double cancel can
-- never free a place that was booked again meanwhile. Refused when it is already cancelled, or
-- inside the host's cutoff before the start (a started slot always is) unless `staff_override`.
-- The trigger frees the place; the slot's lapsed holds are marked EXPIRED, and `offer_needed`
-- says WAITING entries may now be offered the free places (the caller offers them). The audit
-- row gets `override_reason` instead of `reason` when staff cancelled inside the cutoff.
-- `outcome` is CANCELLED, a refusal reason, or SLOT_CHANGED: the booking moved to another slot
-- since it was read (a reschedule); nothing was written and the caller reads it again.
CREATE OR REPLACE FUNCTION booking_cancel(
    booking_id uuid, slot_id uuid, source varchar, actor_id uuid, reason varchar,
    override_reason varchar, staff_override boolean, default_cutoff integer, request_id varchar,
    idempotency_key varchar, lock_timeout_ms integer,
    OUT outcome text, OUT amount integer, OUT cancelled_at timestamptz, OUT offer_needed boolean,
    OUT user_id uuid, OUT created_at timestamptz,
    OUT slot_host_id uuid, OUT slot_host_name varchar, OUT slot_start_time timestamptz,
    OUT slot_end_time timestamptz, OUT slot_status varchar, OUT slot_capacity integer,
    OUT slot_booked_count integer, OUT slot_held_count integer,
    OUT slot_created_at timestamptz, OUT slot_updated_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    slot slots%ROWTYPE;
    booking bookings%ROWTYPE;
    cutoff integer;
    inside_cutoff boolean;
BEGIN
    offer_needed := false;
    IF lock_timeout_ms IS NOT NULL THEN  -- else the caller bounded the transaction's lock waits
        PERFORM set_config('lock_timeout', lock_timeout_ms::text, true);
    END IF;
    SELECT * INTO slot FROM slots s WHERE s.id = booking_cancel.slot_id FOR NO KEY UPDATE;
    SELECT * INTO booking FROM bookings b WHERE b.id = booking_cancel.booking_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN outcome := 'BOOKING_NOT_FOUND'; RETURN; END IF;
    IF booking.slot_id <> booking_cancel.slot_id THEN outcome := 'SLOT_CHANGED'; RETURN; END IF;
    IF booking.status = 'CANCELLED' THEN outcome := 'BOOKING_ALREADY_CANCELLED'; RETURN; END IF;
    cancelled_at := date_trunc('milliseconds', clock_timestamp());
    SELECT p.cancellation_cutoff_minutes INTO cutoff
      FROM host_policies p WHERE p.host_id = slot.host_id;
    IF NOT FOUND THEN cutoff := default_cutoff; END IF;
    -- Exactly `cutoff` before the start is still allowed; a started slot never is.
    inside_cutoff := slot.start_time - cancelled_at < make_interval(mins => cutoff)
                     OR slot.start_time <= cancelled_at;
    IF inside_cutoff AND NOT staff_override THEN
        outcome := 'CANCELLATION_WINDOW_CLOSED'; amount := cutoff; RETURN;
    END IF;

    UPDATE bookings b SET status = 'CANCELLED', cancelled_at = booking_cancel.cancelled_at,
                          updated_at = booking_cancel.cancelled_at
     WHERE b.id = booking_cancel.booking_id;
    IF slot.held_count > 0 THEN  -- lapsed holds take no place: mark them before offering
        PERFORM slot_holds_expire_lapsed(booking_cancel.slot_id, booking_cancel.cancelled_at);
    END IF;
    offer_needed := EXISTS (SELECT 1 FROM waitlist_entries w
                             WHERE w.slot_id = booking_cancel.slot_id AND w.status = 'WAITING');
    INSERT INTO booking_events (id, created_at, action, source, old_status, new_status, reason,
                                request_id, idempotency_key, actor_id, booking_id, new_slot_id,
                                old_slot_id)
    VALUES (gen_random_uuid(), booking_cancel.cancelled_at, 'CANCELLED', source, 'CONFIRMED',
            'CANCELLED',
            CASE WHEN staff_override AND inside_cutoff THEN override_reason ELSE reason END,
            request_id, idempotency_key, actor_id, booking_cancel.booking_id,
            booking_cancel.slot_id, NULL);

    user_id := booking.user_id;
    created_at := booking.created_at;
    SELECT s.host_id, u.name, s.start_time, s.end_time, s.status, s.capacity, s.booked_count,
           s.held_count, s.created_at, s.updated_at
      INTO slot_host_id, slot_host_name, slot_start_time, slot_end_time, slot_status,
           slot_capacity, slot_booked_count, slot_held_count, slot_created_at, slot_updated_at
      FROM slots s JOIN users u ON u.id = s.host_id
     WHERE s.id = booking_cancel.slot_id;
    outcome := 'CANCELLED';
END
$fn$;
"""

DROP = """
DROP FUNCTION IF EXISTS booking_cancel(uuid, uuid, varchar, uuid, varchar, varchar, boolean,
    integer, varchar, varchar, integer);
DROP FUNCTION IF EXISTS booking_book(uuid, uuid, uuid, uuid, varchar, uuid, varchar, varchar,
    boolean, double precision, integer, integer, integer, integer, integer);
DROP FUNCTION IF EXISTS booking_refusal(uuid, uuid, timestamptz, boolean, uuid, integer, integer,
    integer, integer);
DROP FUNCTION IF EXISTS slot_holds_expire_lapsed(uuid, timestamptz);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0008_analytics_rollups"),
        ("accounts", "0003_host_policies"),
    ]

    operations = [
        migrations.RunSQL(BOOKING_REFUSAL + HOLDS_EXPIRE_LAPSED + BOOKING_BOOK + BOOKING_CANCEL, DROP),
    ]
