-- Benchmark fixture data for the database `make bench` owns (slotbooking_bench); never the dev one.
--
-- Bulk SQL, not the services: the fixture is 40k users, 1.9M slots and 1M bookings, which the
-- services would take hours to write one transaction at a time. It still goes through every
-- constraint, and bookings are inserted with the trigger bookings_sync_slot enabled, so
-- slots.booked_count and slots.status are set by the same code as in production. The analytics
-- rollup triggers (bookings_rollup, slots_rollup) are off during the bulk inserts and the rollups
-- are then filled in one GROUP BY each, which gives the same sums; the invariants R1-R3 check it.
-- Python replaces the {placeholders} with integers (bench/fixture.py, SeedConfig) before running
-- this file.
--
-- Shape, for {users} users of whom the first {hosts} are hosts:
--   * each host has {future_per_host} future slots (2 a day, 1 h long, from tomorrow on) and
--     {past_per_host} past slots (1 every 1.5 days, going back about {past_per_host}*1.5 days);
--   * past slots: 80% have a CONFIRMED booking, 10% a CANCELLED one, 10% none;
--   * future slots: 10% are booked, spread so that no guest has more than 2 active bookings and
--     never two with one host (MAX_ACTIVE_BOOKINGS and the per-host limit hold);
--   * booking created_at: hours to two weeks before the slot (past) or 1 to 20 days ago (future
--     slots), at any minute, so analytics has a daily history in every 15-minute bucket.

-- The rollup triggers row by row would double the seeding time: off until the bulk fill below.
CREATE FUNCTION pg_temp.bench_rollup_triggers(action text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tgrelid::regclass AS tbl, tgname FROM pg_trigger
              WHERE tgname LIKE 'pgtrigger\_bookings\_rollup\_%' OR tgname LIKE 'pgtrigger\_slots\_rollup\_%'
    LOOP
        EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.tbl, action, t.tgname);
    END LOOP;
END $$;
SELECT pg_temp.bench_rollup_triggers('DISABLE');

-- Foreign keys are DEFERRABLE INITIALLY DEFERRED (Django's default), so each booking would queue
-- two checks until COMMIT, and every trigger call (pgtrigger's ignore check is a subtransaction)
-- walks that queue: quadratic in the bookings of the transaction. Checked per statement instead.
SET CONSTRAINTS ALL IMMEDIATE;

-- Every instant in milliseconds, like the application writes them.
CREATE TEMP TABLE bench_clock AS SELECT date_trunc('day', now()) AS today;

CREATE TABLE bench_users (n integer PRIMARY KEY, id uuid NOT NULL UNIQUE, is_host boolean NOT NULL);
INSERT INTO bench_users (n, id, is_host)
SELECT n, gen_random_uuid(), n <= {hosts} FROM generate_series(1, {users}) AS n;

INSERT INTO users (id, password, last_login, is_superuser, created_at, updated_at, email, name,
                   roles, timezone, is_staff, is_active)
SELECT bu.id, '!bench-unusable-password', NULL, false,
       c.today - interval '400 days' + bu.n * interval '1 second',
       c.today - interval '400 days' + bu.n * interval '1 second',
       format('bench-user-%s@bench.example', lpad(bu.n::text, 6, '0')),
       format('Bench %s %s', CASE WHEN bu.is_host THEN 'Host' ELSE 'Guest' END, bu.n),
       CASE WHEN bu.is_host THEN ARRAY['HOST', 'GUEST']::varchar(5)[] ELSE ARRAY['GUEST']::varchar(5)[] END,
       'UTC', false, true
FROM bench_users bu CROSS JOIN bench_clock c;

-- Slots. `k` numbers a host's slots; start times are distinct per host and 1 h long, so
-- slots_no_overlap never fires. Future: day 1 + k/2, at 08-11 h or 12-15 h. Past: day -(1 + 3k/2).
CREATE TEMP TABLE bench_slots AS
SELECT gen_random_uuid() AS id, h.id AS host_id, h.n AS host_n, k, true AS future,
       c.today + (1 + k / 2) * interval '1 day' + (8 + (k % 2) * 4 + h.n % 4) * interval '1 hour'
           AS start_time
FROM bench_users h CROSS JOIN generate_series(0, {future_per_host} - 1) AS k CROSS JOIN bench_clock c
WHERE h.is_host
UNION ALL
SELECT gen_random_uuid(), h.id, h.n, k, false,
       c.today - (1 + (3 * k) / 2) * interval '1 day' + (9 + h.n % 8) * interval '1 hour'
FROM bench_users h CROSS JOIN generate_series(0, {past_per_host} - 1) AS k CROSS JOIN bench_clock c
WHERE h.is_host;

INSERT INTO slots (id, created_at, updated_at, start_time, end_time, capacity, booked_count,
                   status, host_id)
SELECT id, start_time - interval '30 days', start_time - interval '30 days', start_time,
       start_time + interval '1 hour', 1, 0, 'AVAILABLE', host_id
FROM bench_slots;

-- Bookings. Guests are the users after the hosts: a host never books its own slot.
-- Past: the guest is a hash of (host, k); limits only count future slots, so any guest will do.
-- Both kinds are staged in bench_bookings first and inserted in batches of 20k: the row triggers
-- of bookings run at the end of each statement, and each trigger call walks the statement's
-- queue of trigger events (as above), so one statement of 1M rows would take hours.
CREATE TEMP TABLE bench_bookings AS
SELECT gen_random_uuid() AS id, b.created_at,
       CASE WHEN b.cancelled THEN b.created_at + interval '1 hour' ELSE b.created_at END
           AS updated_at,
       CASE WHEN b.cancelled THEN 'CANCELLED' ELSE 'CONFIRMED' END AS status,
       CASE WHEN b.cancelled THEN b.created_at + interval '1 hour' END AS cancelled_at,
       b.slot_id, g.id AS user_id
FROM (
    SELECT s.id AS slot_id,
           s.start_time - (2 + (s.host_n * 13 + s.k * 29) % 336) * interval '1 hour'
               + (s.host_n * 7 + s.k * 11) % 60 * interval '1 minute' AS created_at,
           (s.host_n * {past_per_host} + s.k) % 10 = 0 AS cancelled,
           {hosts} + 1 + (s.host_n * 7919 + s.k * 104729) % ({users} - {hosts}) AS guest_n
    FROM bench_slots s
    WHERE NOT s.future AND (s.host_n * {past_per_host} + s.k) % 10 <> 9
) AS b
JOIN bench_users g ON g.n = b.guest_n;

-- Future: the j-th booked slot (ordered by host, then k) goes to guest j mod guests. One host's
-- booked slots are consecutive j, so they go to distinct guests (per-host limit); every guest
-- gets at most ceil(booked / guests) active bookings, 3 with the default sizes.
INSERT INTO bench_bookings
SELECT gen_random_uuid(), b.created_at, b.created_at, 'CONFIRMED', NULL, b.slot_id, g.id
FROM (
    SELECT s.id AS slot_id,
           c.today - (1 + (row_number() OVER (ORDER BY s.host_n, s.k)) % 20) * interval '1 day'
               + interval '8 hours'
               + (row_number() OVER (ORDER BY s.host_n, s.k)) % 600 * interval '1 minute'
               AS created_at,
           {hosts} + 1 + (row_number() OVER (ORDER BY s.host_n, s.k) - 1) % ({users} - {hosts})
               AS guest_n
    FROM bench_slots s CROSS JOIN bench_clock c
    WHERE s.future AND s.k % 10 = 3
) AS b
JOIN bench_users g ON g.n = b.guest_n;

ALTER TABLE bench_bookings ADD COLUMN batch serial;
CREATE INDEX ON bench_bookings (batch);
ANALYZE bench_bookings;
DO $$
DECLARE lo integer;
BEGIN
    FOR lo IN SELECT generate_series(1, max(batch), 20000) FROM bench_bookings LOOP
        INSERT INTO bookings (id, created_at, updated_at, status, cancelled_at, slot_id, user_id)
        SELECT id, created_at, updated_at, status, cancelled_at, slot_id, user_id
          FROM bench_bookings WHERE batch >= lo AND batch < lo + 20000;
    END LOOP;
END $$;

-- The analytics rollups, as the migrations backfill them (stripe 0; only the sums mean
-- anything), then their triggers back on.
TRUNCATE booking_quarters, host_booking_blocks, slot_quarters;
INSERT INTO booking_quarters (bucket, stripe, total, cancelled)
SELECT date_bin('15 minutes', created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), 0,
       count(*), count(*) FILTER (WHERE status = 'CANCELLED')
  FROM bookings GROUP BY 1;
INSERT INTO host_booking_blocks (block, host_id, cum)
WITH per_day AS (
    SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day, s.host_id, count(*) AS n
      FROM bookings b JOIN slots s ON s.id = b.slot_id
     WHERE b.status = 'CONFIRMED' GROUP BY 1, 2),
placed AS (
    SELECT day - ((day - DATE '2000-01-01') % 32 + 32) % 32 AS block, host_id,
           ((day - DATE '2000-01-01') % 32 + 32) % 32 + 1 AS i, n
      FROM per_day)
SELECT block, host_id, array_agg(running::integer ORDER BY i)
  FROM (SELECT k.block, k.host_id, days.i,
               sum(coalesce(p.n, 0)) OVER (PARTITION BY k.block, k.host_id
                                           ORDER BY days.i) AS running
          FROM (SELECT DISTINCT block, host_id FROM placed) AS k
         CROSS JOIN generate_series(1, 32) AS days(i)
          LEFT JOIN placed p
            ON p.block = k.block AND p.host_id = k.host_id AND p.i = days.i
       ) AS grid
 GROUP BY block, host_id;
INSERT INTO slot_quarters (bucket, stripe, capacity, booked)
SELECT date_bin('15 minutes', start_time, TIMESTAMPTZ '2000-01-01 00:00:00+00'), 0,
       sum(capacity), sum(booked_count)
  FROM slots WHERE status <> 'CANCELLED' GROUP BY 1;
SELECT pg_temp.bench_rollup_triggers('ENABLE');

-- The marker `make bench` looks for: present means "seeded, reuse me" (BENCH_RESEED=1 rebuilds).
-- Bookings created after seeded_at are the benchmark's own, and are deleted between runs.
CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO bench_meta (key, value) VALUES
    ('seeded_at', date_trunc('milliseconds', clock_timestamp())::text),
    ('config', '{config_json}');
