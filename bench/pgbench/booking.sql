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
SELECT id, is_active, roles FROM users WHERE id = :uid;
-- booking_precheck(): the unlocked fast path
SELECT status, booked_count, capacity FROM slots WHERE id = :sid;
BEGIN;
SET LOCAL lock_timeout = 3000;
-- user_lock(), then slot_lock() with its host: lock order user -> slot
SELECT id, is_active FROM users WHERE id = :uid FOR NO KEY UPDATE;
SELECT (s.status = 'AVAILABLE' AND s.booked_count < s.capacity)::int AS free,
       (s.start_time > now())::int AS future, (s.host_id <> :uid)::int AS not_own,
       s.host_id AS host_id, h.name AS host_name
  FROM slots s JOIN users h ON h.id = s.host_id WHERE s.id = :sid FOR NO KEY UPDATE OF s \gset
-- _check_bookable(): the caller's active bookings, in total and with this host
SELECT count(*) AS active, count(*) FILTER (WHERE s.host_id = :host_id) AS with_host
  FROM bookings b JOIN slots s ON s.id = b.slot_id
 WHERE b.user_id = :uid AND b.status = 'CONFIRMED' AND s.start_time > now() \gset
\if :free = 1 AND :future = 1 AND :not_own = 1 AND :active < :max_active AND :with_host < 1
INSERT INTO bookings (id, created_at, updated_at, status, cancelled_at, slot_id, user_id)
VALUES (gen_random_uuid(), date_trunc('milliseconds', now()), date_trunc('milliseconds', now()),
        'CONFIRMED', NULL, :sid, :uid);
-- refresh_from_db(): what the trigger bookings_sync_slot wrote
SELECT status, booked_count, updated_at FROM slots WHERE id = :sid;
\endif
COMMIT;
