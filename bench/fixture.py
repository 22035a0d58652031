"""The benchmark's own database: where it is, how it is seeded, reset and checked.

Shared by bench/run.py (the HTTP and pgbench runs) and bench/profile_booking.py. Everything here
talks to PostgreSQL with psycopg directly: the fixture is benchmark data, not a business write
path, so it never goes through the services (see bench/seed.sql for how it still obeys every
constraint and the booking trigger).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
SEED_SQL = BENCH_DIR / "seed.sql"
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_DB = "slotbooking_bench"
RESEED_AFTER_DAYS = 7  # the seeded "future" shrinks every day; rebuild it once a week


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class SeedConfig:
    # 1.0M bookings: 918k on 1.02M past slots, 90k on the 900k future ones, all of those created
    # in the last 20 days, so a 30-day analytics range holds ~108k bookings.
    users: int = 40_000
    hosts: int = 1_000
    future_per_host: int = 900
    past_per_host: int = 1_020

    @classmethod
    def from_env(cls) -> SeedConfig:
        return cls(
            users=env_int("BENCH_USERS", cls.users),
            hosts=env_int("BENCH_HOSTS", cls.hosts),
            future_per_host=env_int("BENCH_FUTURE_SLOTS_PER_HOST", cls.future_per_host),
            past_per_host=env_int("BENCH_PAST_SLOTS_PER_HOST", cls.past_per_host),
        )

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


# WHERE ------------------------------------------------------------------------------------------
def app_database_url() -> str:
    """DATABASE_URL, or the embedded server's URL, as settings.py would resolve it."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    sys.path.insert(0, str(ROOT))
    from devserver import embedded

    return embedded.database_url()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def bench_database_url() -> str:
    """BENCH_DATABASE_URL, else the app's server with the database BENCH_DB (slotbooking_bench)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    return with_database(app_database_url(), os.environ.get("BENCH_DB") or DEFAULT_DB)


def bench_database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=autocommit)


# SEED -------------------------------------------------------------------------------------------
def manage(*args: str, url: str, capture: bool = False) -> str:
    """Run manage.py against the bench database (never the dev one)."""
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        capture_output=capture,
    )
    return result.stdout or ""


def _marker(conn: psycopg.Connection) -> dict[str, str]:
    exists = conn.execute("SELECT to_regclass('bench_meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    return dict(conn.execute("SELECT key, value FROM bench_meta").fetchall())


def ensure_database(url: str, *, reseed: bool, config: SeedConfig) -> dict[str, object]:
    """Create, migrate and seed the bench database unless it is seeded already; return the marker.

    Reseeding drops and recreates only this database (its name must contain "bench").
    """
    name = bench_database_name(url)
    if "bench" not in name:
        raise SystemExit(f"refusing to seed {name!r}: the bench database's name must say bench")
    admin = with_database(url, "postgres")
    with connect(admin) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not reseed:
            with connect(url) as bench:
                stale = _seed_is_stale(bench, _marker(bench), config)
            if stale:
                log(f"bench database {name} must be rebuilt: {stale}")
                reseed = True
        if exists and reseed:
            log(f"dropping {name} (BENCH_RESEED or stale seed)")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    log(f"migrating {name}")
    manage("migrate", "--noinput", "-v", "0", url=url)
    with connect(url) as conn:
        marker = _marker(conn)
        if not marker:
            seed(conn, config)
            marker = _marker(conn)
    return {"database": name, **marker}


def _seed_is_stale(conn: psycopg.Connection, marker: dict[str, str], config: SeedConfig) -> str:
    """Why the seeded data cannot be reused ("" when it can)."""
    if not marker:
        return ""  # created but never seeded: seeding follows migrate
    if json.loads(marker.get("config", "{}")) != asdict(config):
        return "its sizes differ from BENCH_USERS/BENCH_HOSTS/BENCH_*_SLOTS_PER_HOST"
    if seeded_too_long_ago(conn):
        return f"it was seeded more than {RESEED_AFTER_DAYS} days ago (its future is running out)"
    return ""


def seed(conn: psycopg.Connection, config: SeedConfig) -> None:
    """Run bench/seed.sql in one transaction, then VACUUM ANALYZE and check the invariants."""
    started = time.monotonic()
    sql = SEED_SQL.read_text()
    for key, value in asdict(config).items():
        sql = sql.replace("{" + key + "}", str(int(value)))
    sql = sql.replace("{config_json}", config.as_json())
    log(
        f"seeding {config.users} users, {config.hosts * config.future_per_host} future and "
        f"{config.hosts * config.past_per_host} past slots (bulk SQL, trigger on)"
    )
    with conn.transaction():
        conn.execute(sql.encode())  # a whole script: no parameters, so the simple query protocol
    conn.execute(
        "VACUUM (ANALYZE) users, slots, bookings, booking_quarters, host_booking_blocks, "
        "slot_quarters"
    )
    conn.execute("ANALYZE")
    counts = fixture_counts(conn)
    log(f"seeded in {time.monotonic() - started:.1f} s: {counts}")
    broken = check_invariants(conn)
    if broken:
        raise SystemExit(f"the seeded data breaks invariants: {broken}")


def seeded_too_long_ago(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT value::timestamptz < now() - %s * interval '1 day' FROM bench_meta "
        "WHERE key = 'seeded_at'",
        (RESEED_AFTER_DAYS,),
    ).fetchone()
    return bool(row and row[0])


def fixture_counts(conn: psycopg.Connection) -> dict[str, int]:
    row = conn.execute(
        """SELECT (SELECT count(*) FROM users),
                  (SELECT count(*) FROM slots WHERE start_time > now()),
                  (SELECT count(*) FROM slots WHERE start_time <= now()),
                  (SELECT count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
                    WHERE s.start_time <= now()),
                  (SELECT count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
                    WHERE s.start_time > now() AND b.status = 'CONFIRMED')"""
    ).fetchone()
    if row is None:
        raise RuntimeError("no counts")
    keys = ("users", "future_slots", "past_slots", "past_bookings", "future_confirmed_bookings")
    return dict(zip(keys, (int(v) for v in row), strict=True))


# RESET AND INVARIANTS ---------------------------------------------------------------------------
def reset(conn: psycopg.Connection) -> int:
    """Delete the bookings the benchmark made (created after seeded_at); return how many.

    The trigger gives their slots back. Rows that reference them in tables of later milestones
    (audit events, idempotency records) are benchmark-made too and are truncated first: TRUNCATE,
    unlike DELETE, is allowed on the append-only booking_events.
    """
    with conn.transaction():
        for table in ("booking_events", "idempotency_records", "waitlist_entries, holds"):
            first = table.split(",")[0]
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (first,)).fetchone()
            if row and row[0]:
                conn.execute(f"TRUNCATE {table}")  # entries reference holds: both at once
                if "holds" in table:  # TRUNCATE fires no row trigger: give the places back
                    conn.execute("UPDATE slots SET held_count = 0 WHERE held_count <> 0")
        cur = conn.execute(
            "DELETE FROM bookings WHERE created_at > "
            "(SELECT value::timestamptz FROM bench_meta WHERE key = 'seeded_at')"
        )
        return cur.rowcount


INVARIANTS = {
    # The double booking we must never see: more CONFIRMED bookings than capacity.
    "no slot has more CONFIRMED bookings than its capacity": """
        SELECT b.slot_id, count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
        WHERE b.status = 'CONFIRMED' GROUP BY b.slot_id, s.capacity HAVING count(*) > s.capacity""",
    "booked_count equals the slot's CONFIRMED bookings": """
        SELECT s.id, s.booked_count, coalesce(c.n, 0) FROM slots s
        LEFT JOIN (SELECT slot_id, count(*) AS n FROM bookings WHERE status = 'CONFIRMED'
                   GROUP BY slot_id) c ON c.slot_id = s.id
        WHERE s.booked_count <> coalesce(c.n, 0)""",
    "a slot is BOOKED exactly when booked_count = capacity": """
        SELECT id, status, booked_count, capacity FROM slots WHERE NOT (
             (status = 'CANCELLED' AND booked_count = 0)
          OR (status = 'BOOKED' AND booked_count = capacity)
          OR (status = 'AVAILABLE' AND booked_count < capacity))""",
    "no guest holds two CONFIRMED bookings of one slot": """
        SELECT slot_id, user_id FROM bookings WHERE status = 'CONFIRMED'
        GROUP BY slot_id, user_id HAVING count(*) > 1""",
    "no guest above MAX_ACTIVE_BOOKINGS": """
        SELECT b.user_id, count(*) FROM bookings b JOIN slots s ON s.id = b.slot_id
        WHERE b.status = 'CONFIRMED' AND s.start_time > now()
        GROUP BY b.user_id HAVING count(*) > %(max_active)s""",
    # The analytics rollups equal the rows they summarise (bookings/invariants.py R1-R3).
    "booking_quarters equals the bookings per 15-minute bucket": """
        SELECT bucket FROM (SELECT bucket, sum(total) AS total, sum(cancelled) AS cancelled
                              FROM booking_quarters GROUP BY bucket) r
        FULL JOIN (SELECT date_bin('15 minutes', created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                          AS bucket, count(*) AS total,
                          count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled
                     FROM bookings GROUP BY 1) b USING (bucket)
        WHERE coalesce(r.total, 0) <> coalesce(b.total, 0)
           OR coalesce(r.cancelled, 0) <> coalesce(b.cancelled, 0)""",
    "host_booking_blocks equals the CONFIRMED bookings per UTC day and host": """
        SELECT day, host_id
          FROM (SELECT block + (i - 1)::integer AS day, host_id,
                       CASE WHEN cardinality(cum) = 32 AND mod(block - DATE '2000-01-01', 32) = 0
                            THEN running - coalesce(lag(running) OVER (
                                     PARTITION BY block, host_id ORDER BY i), 0)
                       END AS confirmed
                  FROM host_booking_blocks, unnest(cum) WITH ORDINALITY AS u(running, i)) r
        FULL JOIN (SELECT (bk.created_at AT TIME ZONE 'UTC')::date AS day, s.host_id,
                          count(*) AS confirmed
                     FROM bookings bk JOIN slots s ON s.id = bk.slot_id
                    WHERE bk.status = 'CONFIRMED' GROUP BY 1, 2) b USING (day, host_id)
        WHERE r.confirmed IS DISTINCT FROM coalesce(b.confirmed, 0)""",
    "slot_quarters equals the non-cancelled slots per 15-minute bucket": """
        SELECT bucket FROM (SELECT bucket, sum(capacity) AS capacity, sum(booked) AS booked
                              FROM slot_quarters GROUP BY bucket) r
        FULL JOIN (SELECT date_bin('15 minutes', start_time, TIMESTAMPTZ '2000-01-01 00:00:00+00')
                          AS bucket, sum(capacity) AS capacity, sum(booked_count) AS booked
                     FROM slots WHERE status <> 'CANCELLED' GROUP BY 1) s USING (bucket)
        WHERE coalesce(r.capacity, 0) <> coalesce(s.capacity, 0)
           OR coalesce(r.booked, 0) <> coalesce(s.booked, 0)""",
    "no guest with two active bookings of one host": """
        SELECT b.user_id, s.host_id FROM bookings b JOIN slots s ON s.id = b.slot_id
        WHERE b.status = 'CONFIRMED' AND s.start_time > now()
        GROUP BY b.user_id, s.host_id HAVING count(*) > 1""",
}


def max_active_bookings() -> int:
    return env_int("MAX_ACTIVE_BOOKINGS", 5)


def check_invariants(conn: psycopg.Connection) -> dict[str, list[str]]:
    """The broken invariants, each with up to 5 offending rows; empty when all hold."""
    broken: dict[str, list[str]] = {}
    for name, sql in INVARIANTS.items():
        rows = conn.execute(sql, {"max_active": max_active_bookings()}).fetchmany(5)
        if rows:
            broken[name] = [repr(tuple(str(v) for v in row)) for row in rows]
    return broken


# INPUTS -----------------------------------------------------------------------------------------
def spread_pairs(
    conn: psycopg.Connection, *, limit: int, rng: random.Random
) -> list[tuple[str, str]]:
    """Up to `limit` (user, slot) pairs that can all be booked, each slot once.

    Every pair respects the rules on the current state: the slot is free and starts in more than
    an hour, the guest is not its host, stays within MAX_ACTIVE_BOOKINGS and gets at most one
    active booking per host. Users come round-robin (every user once, then every user again), so
    one user's pairs are thousands of requests apart and concurrent requests rarely queue on the
    same user lock: the success path, not lock waits, is what book-spread measures.
    """
    active: dict[str, set[str]] = defaultdict(set)
    for user_id, host_id in conn.execute(
        """SELECT b.user_id::text, s.host_id::text FROM bookings b JOIN slots s ON s.id = b.slot_id
           WHERE b.status = 'CONFIRMED' AND s.start_time > now()"""
    ):
        active[user_id].add(host_id)
    users = [row[0] for row in conn.execute("SELECT id::text FROM bench_users ORDER BY n")]
    slots = conn.execute(
        """SELECT id::text, host_id::text FROM slots
           WHERE status = 'AVAILABLE' AND start_time > now() + interval '1 hour'"""
    ).fetchall()
    rng.shuffle(slots)
    max_active = max_active_bookings()
    pairs: list[tuple[str, str]] = []
    cursor = 0
    for _ in range(max_active):
        for user in users:
            if len(pairs) >= limit or cursor >= len(slots):
                return pairs
            hosts = active[user]
            if len(hosts) >= max_active:
                continue
            # The next slot whose host this user has no booking with (rarely more than one step).
            for look in range(cursor, min(cursor + 50, len(slots))):
                slot_id, host_id = slots[look]
                if host_id != user and host_id not in hosts:
                    slots[cursor], slots[look] = slots[look], slots[cursor]
                    cursor += 1
                    hosts.add(host_id)
                    pairs.append((user, slot_id))
                    break
    return pairs


def random_users(conn: psycopg.Connection, count: int, rng: random.Random) -> list[str]:
    users = [row[0] for row in conn.execute("SELECT id::text FROM bench_users")]
    return rng.sample(users, min(count, len(users)))
