"""The scenarios of `make bench`: each one turns the bench database into a list of HTTP requests.

A scenario is data (name, what it means, how to build its requests, which server settings it
needs), so the list grows by appending: queued mode adds book-spread and book-hot again with
`server_env={"BOOKING_MODE": "queued"}` and the runner starts a second server for them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from bench.fixture import random_users, spread_pairs


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def line(self) -> str:
        """One line of the request file that bench/wrk/requests.lua and bench/loadgen.py read."""
        headers = "|".join(f"{name}: {value}" for name, value in self.headers.items())
        return f"{self.method}\t{self.path}\t{headers}\t{self.body}"


@dataclass
class Context:
    conn: psycopg.Connection
    rng: random.Random
    duration: float
    staff_token: str


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: Callable[[Context, int], list[Request]]
    writes: bool = False  # reset the benchmark's bookings before it, check invariants after
    server_env: dict[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, int]], str] | None = None  # statuses -> problem ("" when fine)
    connections: tuple[int, ...] = ()  # only these connection counts; () means BENCH_CONNECTIONS
    min_duration: float = 0  # seconds: a run lasts at least this long, whatever BENCH_DURATION


def _as_user(user_id: str) -> dict[str, str]:
    # x-user-id, the original's way to authenticate: one query, like a token lookup.
    return {"x-user-id": user_id}


def _booking(user_id: str, slot_id: str) -> Request:
    return Request(
        "POST",
        "/api/bookings",
        {**_as_user(user_id), "Content-Type": "application/json"},
        json.dumps({"slotId": slot_id}),
    )


# Enough distinct pairs that no connection runs out within the run, even at 5,000 req/s.
SPREAD_RATE_CEILING = 5_000


def build_book_spread(ctx: Context, connections: int) -> list[Request]:
    pairs = spread_pairs(ctx.conn, limit=int(ctx.duration * SPREAD_RATE_CEILING), rng=ctx.rng)
    return [_booking(user, slot) for user, slot in pairs]


def build_book_hot(ctx: Context, connections: int) -> list[Request]:
    row = ctx.conn.execute(
        """SELECT id::text, host_id::text FROM slots
           WHERE status = 'AVAILABLE' AND capacity = 1 AND start_time > now() + interval '1 day'
           ORDER BY random() LIMIT 1"""
    ).fetchone()
    if row is None:
        raise SystemExit("book-hot: no free slot left; run with BENCH_RESEED=1")
    slot_id, host_id = row
    guests = [u for u in random_users(ctx.conn, 5_000, ctx.rng) if u != host_id]
    return [_booking(user, slot_id) for user in guests]


def check_book_hot(statuses: dict[str, int]) -> str:
    others = {s: n for s, n in statuses.items() if s not in ("201", "409")}
    if statuses.get("201", 0) != 1 or others:
        return f"expected exactly one 201 and only 409s, got {statuses}"
    return ""


CAPACITY_SEATS = 500
CAPACITY_GUESTS = 5_000


def build_book_capacity(ctx: Context, connections: int) -> list[Request]:
    # One group session of 500 places; the benchmark's own bookings are reset before each run,
    # so the same slot is full again only through this run's requests. A free slot of capacity 1
    # is given the places the first time (its status stays AVAILABLE: 0 < 500).
    row = ctx.conn.execute(
        "SELECT id::text, host_id::text FROM slots WHERE capacity = %s AND status = 'AVAILABLE' "
        "AND booked_count = 0 AND start_time > now() + interval '1 day' LIMIT 1",
        (CAPACITY_SEATS,),
    ).fetchone()
    if row is None:
        row = ctx.conn.execute(
            """UPDATE slots SET capacity = %s WHERE id = (
                   SELECT id FROM slots WHERE status = 'AVAILABLE' AND booked_count = 0
                     AND capacity = 1 AND start_time > now() + interval '1 day'
                     AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = slots.id)
                   ORDER BY random() LIMIT 1)
               RETURNING id::text, host_id::text""",
            (CAPACITY_SEATS,),
        ).fetchone()
    if row is None:
        raise SystemExit("book-capacity: no free slot left; run with BENCH_RESEED=1")
    slot_id, host_id = row
    guests = [u for u in random_users(ctx.conn, CAPACITY_GUESTS + 1, ctx.rng) if u != host_id]
    return [_booking(user, slot_id) for user in guests[:CAPACITY_GUESTS]]


def check_book_capacity(statuses: dict[str, int]) -> str:
    others = {s: n for s, n in statuses.items() if s not in ("201", "409")}
    if statuses.get("201", 0) != CAPACITY_SEATS or others:
        return f"expected exactly {CAPACITY_SEATS} 201s and only 409s, got {statuses}"
    return ""


def check_no_errors(statuses: dict[str, int]) -> str:
    bad = {s: n for s, n in statuses.items() if not s.startswith("2")}
    return f"non-2xx answers: {bad}" if bad else ""


def check_book_spread(statuses: dict[str, int]) -> str:
    bad = {s: n for s, n in statuses.items() if s not in ("201", "409")}
    return f"unexpected answers: {bad}" if bad else ""


def _held_pairs(ctx: Context, pairs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Give each (user, slot) pair a hold of the user's, written as the hold endpoint would
    (the trigger counts it on the slot); return (user, slot, hold id)."""
    rows = ctx.conn.execute(
        """INSERT INTO holds (id, created_at, updated_at, slot_id, user_id, status, expires_at)
           SELECT gen_random_uuid(), now(), now(), p.slot::uuid, p.usr::uuid, 'ACTIVE',
                  now() + interval '30 minutes'
           FROM unnest(%s::text[], %s::text[]) AS p(usr, slot)
           RETURNING user_id::text, slot_id::text, id::text""",
        ([u for u, _ in pairs], [s for _, s in pairs]),
    ).fetchall()
    ctx.conn.commit()
    return [(u, s, h) for u, s, h in rows]


def build_hold_then_book(ctx: Context, connections: int) -> list[Request]:
    """Half the requests hold a free place (POST /api/slots/{id}/holds), the other half book a
    place held beforehand with its holdId: the two steps of a checkout, spread over slots."""
    pairs = spread_pairs(ctx.conn, limit=int(ctx.duration * SPREAD_RATE_CEILING), rng=ctx.rng)
    to_hold, to_book = pairs[0::2], pairs[1::2]
    held = _held_pairs(ctx, to_book)
    json_headers = {"Content-Type": "application/json"}
    requests = []
    for (hold_user, hold_slot), (user, slot, hold_id) in zip(to_hold, held, strict=False):
        requests.append(
            Request(
                "POST",
                f"/api/slots/{hold_slot}/holds",
                {**_as_user(hold_user), **json_headers},
                "{}",
            )
        )
        requests.append(
            Request(
                "POST",
                "/api/bookings",
                {**_as_user(user), **json_headers},
                json.dumps({"slotId": slot, "holdId": hold_id}),
            )
        )
    return requests


def build_reschedule(ctx: Context, connections: int) -> list[Request]:
    """Each request moves a booking (made beforehand, one per user) to a free slot of another
    host: POST /api/bookings/{id}/reschedule, two slot locks and the trigger moving the count."""
    pairs = spread_pairs(ctx.conn, limit=int(ctx.duration * SPREAD_RATE_CEILING) * 2, rng=ctx.rng)
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    for user, slot in pairs:
        if user not in first:
            first[user] = slot
        elif user not in second:
            second[user] = slot
    users = [u for u in first if u in second]
    rows = ctx.conn.execute(
        """INSERT INTO bookings (id, created_at, updated_at, slot_id, user_id, status)
           SELECT gen_random_uuid(), now(), now(), p.slot::uuid, p.usr::uuid, 'CONFIRMED'
           FROM unnest(%s::text[], %s::text[]) AS p(usr, slot)
           RETURNING user_id::text, id::text""",
        (users, [first[u] for u in users]),
    ).fetchall()
    ctx.conn.commit()
    return [
        Request(
            "POST",
            f"/api/bookings/{booking}/reschedule",
            {**_as_user(user), "Content-Type": "application/json"},
            json.dumps({"slotId": second[user]}),
        )
        for user, booking in rows
    ]


def check_created_or_moved(statuses: dict[str, int]) -> str:
    bad = {s: n for s, n in statuses.items() if s not in ("200", "201", "409")}
    return f"unexpected answers: {bad}" if bad else ""


def build_get_slot(ctx: Context, connections: int) -> list[Request]:
    # Future and past slots alike; each request by some user (rarely the slot's host).
    slots = [
        row[0] for row in ctx.conn.execute("SELECT id::text FROM slots TABLESAMPLE SYSTEM (10)")
    ]
    slots = ctx.rng.sample(slots, min(20_000, len(slots)))
    users = random_users(ctx.conn, len(slots), ctx.rng)
    return [
        Request("GET", f"/api/slots/{slot}", _as_user(users[i % len(users)]))
        for i, slot in enumerate(slots)
    ]


def _utc_day(days_from_today: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days_from_today)


def build_list_slots(ctx: Context, connections: int) -> list[Request]:
    # A guest browsing free slots one day at a time (about 1,800 per day), pages 1 to 5 of 20.
    users = random_users(ctx.conn, 5_000, ctx.rng)
    requests = []
    for i, user in enumerate(users):
        day = _utc_day(1 + ctx.rng.randrange(50))
        start = day.strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        page = 1 + i % 5
        path = f"/api/slots?startDate={start}&endDate={end}&status=AVAILABLE&page={page}&limit=20"
        requests.append(Request("GET", path, _as_user(user)))
    return requests


ANALYTICS_DAYS = 30
ANALYTICS_YEAR_DAYS = 366  # ANALYTICS_MAX_RANGE_DAYS, the longest range the API accepts


def _analytics(ctx: Context, days: int) -> list[Request]:
    start = _utc_day(-days).date().isoformat()
    end = _utc_day(-1).date().isoformat()
    headers = {"Authorization": f"Bearer {ctx.staff_token}"}
    return [Request("GET", f"/api/admin/analytics?start_date={start}&end_date={end}", headers)]


def build_analytics(ctx: Context, connections: int) -> list[Request]:
    # The dashboard's question: the last 30 whole days, which the seeded history fills.
    return _analytics(ctx, ANALYTICS_DAYS)


def build_analytics_year(ctx: Context, connections: int) -> list[Request]:
    # The longest range: the last 366 whole days.
    return _analytics(ctx, ANALYTICS_YEAR_DAYS)


SCENARIOS: list[Scenario] = [
    Scenario(
        "book-spread",
        "POST /api/bookings: every request books a different free slot as a different user "
        "(the success path: 201)",
        build_book_spread,
        writes=True,
        check=check_book_spread,
    ),
    # The per-request cost of the rate limiter and the metrics: book-spread again on a server
    # with both turned off (the main server has both on, with a limit no scenario reaches).
    Scenario(
        "book-spread-bare",
        "book-spread with BOOKING_RATE_LIMIT=0 and METRICS_ENABLED=false: no limiter, no metrics",
        build_book_spread,
        writes=True,
        server_env={"BOOKING_RATE_LIMIT": "0", "METRICS_ENABLED": "false"},
        check=check_book_spread,
    ),
    Scenario(
        "book-hot",
        "POST /api/bookings: every connection books the same slot (one 201, then the 409 "
        "fast path)",
        build_book_hot,
        writes=True,
        check=check_book_hot,
    ),
    # Queued mode: the same two booking scenarios through Redis and one worker
    # process per partition; the HTTP client still waits for its 201 or 409.
    Scenario(
        "book-spread-queued",
        "book-spread with BOOKING_MODE=queued: each booking decided by a partition worker",
        build_book_spread,
        writes=True,
        server_env={"BOOKING_MODE": "queued"},
        check=check_book_spread,
    ),
    Scenario(
        "book-hot-queued",
        "book-hot with BOOKING_MODE=queued: the 409s come from the API's pre-read, the one 201 "
        "from a worker",
        build_book_hot,
        writes=True,
        server_env={"BOOKING_MODE": "queued"},
        check=check_book_hot,
    ),
    # Holds and reschedule: a checkout's hold and booking, and a booking moved atomically.
    Scenario(
        "hold-then-book",
        "POST /api/slots/{id}/holds and POST /api/bookings with a holdId, alternating, each on "
        "a different free slot (201s)",
        build_hold_then_book,
        writes=True,
        check=check_created_or_moved,
    ),
    Scenario(
        "reschedule",
        "POST /api/bookings/{id}/reschedule: every request moves a different booking to a "
        "free slot of another host (200s)",
        build_reschedule,
        writes=True,
        check=check_created_or_moved,
    ),
    Scenario(
        "book-capacity",
        f"POST /api/bookings: {CAPACITY_GUESTS:,} guests book one slot of {CAPACITY_SEATS} "
        f"places at once (exactly {CAPACITY_SEATS} 201s, then 409s)",
        build_book_capacity,
        writes=True,
        check=check_book_capacity,
        # Every place must be taken within the run. The 500 bookings of one slot are decided one
        # after the other under its row lock, so they need longer than the other scenarios' 10 s.
        connections=(16,),
        min_duration=90,
    ),
    Scenario(
        "get-slot",
        "GET /api/slots/{id} of random future and past slots",
        build_get_slot,
        check=check_no_errors,
    ),
    Scenario(
        "list-slots",
        "GET /api/slots: one day's AVAILABLE slots, pages 1-5 of 20",
        build_list_slots,
        check=check_no_errors,
    ),
    Scenario(
        "analytics",
        f"GET /api/admin/analytics over the last {ANALYTICS_DAYS} days (staff token)",
        build_analytics,
        check=check_no_errors,
    ),
    Scenario(
        "analytics-year",
        f"GET /api/admin/analytics over the last {ANALYTICS_YEAR_DAYS} days (staff token)",
        build_analytics_year,
        check=check_no_errors,
    ),
]
