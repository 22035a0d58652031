"""Use cases of calendars: rotating a host's feed token."""

from __future__ import annotations

import secrets
from uuid import UUID

from accounts.locks import user_lock
from accounts.tokens import token_hash
from calendars.models import CalendarToken
from core.db.transactions import in_service_transaction
from core.errors import NotAHostError

NOT_A_HOST = "Only hosts can do this"
TOKEN_PREFIX = "cal_"  # noqa: S105  # the public prefix of every feed token, not a secret


def calendar_token_rotate(*, host_id: UUID) -> str:
    """Give the host a new feed token and return it; the previous one stops working at once.

    The token is separate from the API token (it only opens the feed) and is stored as its
    SHA-256. Locks the user row, so two rotations never leave two tokens.
    Raises NotAHostError, UserNotFoundError.
    """

    def work() -> str:
        host = user_lock(user_id=host_id)
        if not host.is_host:
            raise NotAHostError(NOT_A_HOST)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        CalendarToken.objects.update_or_create(
            host_id=host.pk, defaults={"token_hash": token_hash(token)}
        )
        return token

    return in_service_transaction(work)
