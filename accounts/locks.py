"""The only place that locks user rows. Lock order everywhere: user → slot → booking."""

from __future__ import annotations

from uuid import UUID

from accounts.errors import UserNotFoundError
from accounts.models import User
from core.db.transactions import require_transaction


def user_lock(*, user_id: UUID) -> User:
    """Lock the user row (FOR NO KEY UPDATE) and return it as it is now. Inside atomic().

    Serialises one user's concurrent writes: per-user booking limits and a host's slot
    creation. NO KEY: rows that merely reference the user (new bookings) are not blocked.
    Raises UserNotFoundError.
    """
    require_transaction("user_lock()")
    user = User.objects.select_for_update(no_key=True).filter(pk=user_id).first()
    if user is None:
        raise UserNotFoundError()
    return user
