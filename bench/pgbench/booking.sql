-- The booking transaction of bookings.services.booking_create, statement for statement, in raw
-- SQL: the database's ceiling for the app's book-spread scenario (run by bench/run.py with
-- pgbench -M prepared). bench_pairs holds free (user, slot) pairs that respect
-- MAX_ACTIVE_BOOKINGS and the per-host limit; client c takes pairs c+1, c+1+C, c+1+2C, ... so no
-- two transactions book the same slot, as in book-spread. `iter` starts at 0 (-D iter=0) and
-- counts this client's transactions; pgbench keeps variables from one transaction to the next.
\set n 1 + :client_id + :nclients * :iter
\set iter :iter + 1
SELECT user_id AS uid, slot_id AS sid FROM bench_pairs WHERE n = :n \gset
-- authentication (x-user-id): the caller's row
SELECT id, name, is_active, is_staff, roles FROM users WHERE id = :uid;
-- booking_precheck(): the unlocked fast path
SELECT status, capacity, booked_count, held_count FROM slots WHERE id = :sid;
BEGIN;
-- booking_book(): lock timeout, user then slot lock, lapsed holds, the rules (booking_refusal()),
-- the booking, its audit row, the slot as the trigger left it
SELECT outcome, slot_host_id AS host_id FROM booking_book(:uid::uuid, :sid::uuid, NULL::uuid,
    gen_random_uuid(), 'api'::varchar, :uid::uuid, 'pgbench'::varchar, NULL::varchar, true,
    0::float8, 3000, :max_active::int, 0, NULL::int, 1) \gset
-- webhooks.emit(): the outbox event and its deliveries, in one statement
WITH new_events (id, type, body, created_at, user_ids) AS (
    VALUES (gen_random_uuid(), 'booking.created', '{"type":"booking.created","data":{}}',
            date_trunc('milliseconds', now()), ARRAY[:uid::uuid, :host_id::uuid])),
inserted AS (
    INSERT INTO webhook_events (id, type, body, created_at, updated_at)
    SELECT id, type, body, created_at, created_at FROM new_events
)
INSERT INTO webhook_deliveries
    (id, event_id, endpoint_id, status, attempt_count, series_start, next_attempt_at, created_at,
     updated_at)
SELECT gen_random_uuid(), n.id, e.id, 'PENDING', 0, 0, n.created_at, n.created_at, n.created_at
FROM new_events n
JOIN webhook_endpoints e
  ON e.is_active AND (e.all_events OR (e.owner_id = ANY(n.user_ids) AND n.type = ANY(e.events)));
COMMIT;
