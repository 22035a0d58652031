-- A booking as bookings.services.booking_create sends it, statement for statement, in raw
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
-- booking_book_statement() in autocommit, the whole booking as one statement: the unlocked
-- pre-read, lock timeout, user then slot lock, the rules (booking_refusal()), the booking, its
-- audit row, the outbox event and its deliveries, the slot as the trigger left it
SELECT outcome FROM booking_book_statement(:uid::uuid, :sid::uuid, gen_random_uuid(),
    'api'::varchar, :uid::uuid, 'pgbench'::varchar, true, 0::float8, 3000, :max_active::int, 0,
    NULL::int, 1);
