"""manage.py seed_demo: the demo users and slots, idempotently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from accounts.errors import UserNotFoundError
from accounts.models import Role, User
from accounts.selectors import api_token_is_current, user_get_by_email
from accounts.services import api_token_rotate, user_register
from bookings.demo import demo_history_bookings_seed, demo_history_slots
from core.audit import EventSource
from core.cli.kit import ProgressBar
from core.errors import DomainError
from slots.services import slot_create, slot_overlaps

DEMO_USERS = (
    ("Alice Host", "host1@example.com", [Role.HOST, Role.GUEST]),
    ("Bob Host", "host2@example.com", [Role.HOST]),
    ("Charlie Guest", "guest1@example.com", [Role.GUEST]),
    ("Diana Guest", "guest2@example.com", [Role.GUEST]),
)
# Bob's one past slot shows `Cannot book a slot in the past`; the only rule skipped on purpose.
PAST_SLOT = (datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC))
# Bob's first evening slot is a group session: several guests book places on one slot.
GROUP_SESSION_CAPACITY = 10


def demo_slot_times(today: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    """Alice: days +1..+7 at 09:00 and 14:00; Bob: days +1..+5 at 18:00 (UTC, one hour).
    Bob's first one (day +1) is the group session."""

    def at(day: int, hour: int) -> tuple[datetime, datetime]:
        start = datetime.combine(today.date() + timedelta(days=day), time(hour), tzinfo=UTC)
        return start, start + timedelta(hours=1)

    return {
        "host1@example.com": [at(day, hour) for day in range(1, 8) for hour in (9, 14)],
        "host2@example.com": [at(day, 18) for day in range(1, 6)],
    }


class Command(BaseCommand):
    help = (
        "Create the demo users (two hosts, two guests) and their slots, one of them a group "
        "session of 10 places. Idempotent: users are "
        "matched by email, and a slot is created only where its host has nothing overlapping. "
        "--tokens prints the demo users' API tokens: the same ones on every run against the same "
        "database (they are kept in the data dir, readable only by you), new ones the first time "
        "or after a token was rotated elsewhere; --rotate-tokens issues new ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tokens", action="store_true", help="print the demo users' API tokens (kept stable)"
        )
        parser.add_argument(
            "--rotate-tokens",
            action="store_true",
            help="issue new API tokens for the demo users (the old ones stop working), print them",
        )
        parser.add_argument(
            "--bookings",
            type=int,
            default=0,
            metavar="N",
            help="also create booking history: past slots of the demo hosts over --days days, "
            "topped up to N bookings (about 15%% cancelled); idempotent like the rest",
        )
        parser.add_argument(
            "--days", type=int, default=30, metavar="D", help="days of history (default 30)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users: dict[str, User] = {}
        created_users = 0
        for name, email, roles in DEMO_USERS:
            try:
                users[email] = user_get_by_email(email=email)
            except UserNotFoundError:
                users[email], _ = user_register(email=email, name=name, roles=roles)
                created_users += 1

        created_slots = 0
        wanted = demo_slot_times(datetime.now(UTC))
        wanted["host2@example.com"].append(PAST_SLOT)
        group_session = wanted["host2@example.com"][0]
        for email, times in wanted.items():
            host = users[email]
            for start, end in times:
                if slot_overlaps(host_id=host.pk, start_time=start, end_time=end):
                    continue
                try:
                    slot_create(
                        host_id=host.pk,
                        start_time=start,
                        end_time=end,
                        capacity=GROUP_SESSION_CAPACITY if (start, end) == group_session else 1,
                        allow_past=(start, end) == PAST_SLOT,
                        source=EventSource.CLI,
                    )
                except DomainError as exc:  # an overlap created meanwhile: the goal is met
                    self.stderr.write(f"{email} {start:%Y-%m-%d %H:%M}: {exc.message}")
                else:
                    created_slots += 1
        self.stdout.write(f"demo data: {created_users} users and {created_slots} slots created")
        if options["bookings"] > 0:
            self._history(users, bookings=options["bookings"], days=options["days"])

        if options["tokens"] or options["rotate_tokens"]:
            tokens = self._tokens(users, rotate=options["rotate_tokens"])
            self.stdout.write(
                "demo users (send `Authorization: Bearer <token>` or `x-user-id: <id>`):"
            )
            for name, email, _ in DEMO_USERS:
                self.stdout.write(
                    f"  {name:<14} {email:<20} id={users[email].pk}  token={tokens[email]}"
                )

    def _tokens(self, users: dict[str, User], *, rotate: bool) -> dict[str, str]:
        """The demo users' tokens: kept from the last run unless rotated (here or elsewhere).

        Only hashes are in the database, so the plain tokens are kept in the data dir, per
        database: the test database or another DATABASE_URL never overwrites the dev ones.
        """
        store = demo_tokens_file()
        saved: dict[str, dict[str, str]] = {}
        if store.exists():
            try:
                saved = json.loads(store.read_text())
            except ValueError:
                saved = {}  # a damaged file: issue new tokens and write it again
        key = database_key()
        kept = saved.get(key, {})
        tokens: dict[str, str] = {}
        for _, email, _ in DEMO_USERS:
            user_id = users[email].pk
            token = kept.get(email)
            if rotate or not token or not api_token_is_current(user_id=user_id, token=token):
                token = api_token_rotate(user_id=user_id).token
            tokens[email] = token
        if tokens != kept:
            saved[key] = tokens
            store.parent.mkdir(parents=True, exist_ok=True)
            store.touch(mode=0o600)
            store.chmod(0o600)  # the tokens are credentials: readable by their owner only
            store.write_text(json.dumps(saved, indent=2) + "\n")
        return tokens

    def _history(self, users: dict[str, User], *, bookings: int, days: int) -> None:
        """Past slots and bookings for the dashboard (bookings/demo.py says why it is honest)."""
        if days < 1 or days > 366:
            raise CommandError("--days must be 1 to 366", returncode=2)
        slots = demo_history_slots(
            hosts={users["host1@example.com"]: (9, 14), users["host2@example.com"]: (18,)},
            days=days,
            today=datetime.now(UTC),
        )
        guests = [users[email] for email in ("guest1@example.com", "guest2@example.com")]
        guests.append(users["host1@example.com"])  # Alice is a guest too (of Bob's slots)
        if bookings > len(slots):
            self.stderr.write(f"only {len(slots)} past slots in {days} days: capped")
        with ProgressBar(min(bookings, len(slots)), label="history bookings") as bar:
            created = demo_history_bookings_seed(
                slots=slots, guests=guests, bookings=bookings, progress=bar.advance
            )
        self.stdout.write(f"history: {len(slots)} past slots, {created} bookings created")


def demo_tokens_file() -> Path:
    return Path(settings.SLOTBOOKING_DATA_DIR) / "demo_tokens.json"


def database_key() -> str:
    """The database these rows live in: host, port and name (never the password)."""
    db = connection.settings_dict
    return f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
