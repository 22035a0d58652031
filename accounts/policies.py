"""Host booking policies: each host's own notice, horizon, cancellation cutoff and per-guest limit.

A host without a stored policy has the default one, which reproduces the fixed rules: no minimum
notice, no horizon, the server's CANCELLATION_WINDOW_HOURS as cutoff, one active booking per
guest. The booking services read the policy of the slot's host inside their transaction, after
the slot lock; the global MAX_ACTIVE_BOOKINGS applies on top of it.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings

from accounts.locks import user_lock
from accounts.models import (
    CANCELLATION_CUTOFF_MINUTES_MAX,
    MAX_ACTIVE_PER_GUEST_MAX,
    MAX_ACTIVE_PER_GUEST_MIN,
    MAX_HORIZON_DAYS_MAX,
    MAX_HORIZON_DAYS_MIN,
    MIN_NOTICE_MINUTES_MAX,
    HostPolicy,
)
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction
from core.errors import NotAHostError, ValidationFailedError

NOT_A_HOST_POLICY = "Only hosts can do this"
# The policy of a host who never stored one: the fixed rules (any notice, no horizon, one active
# booking per guest).
DEFAULT_MIN_NOTICE_MINUTES = 0
DEFAULT_MAX_HORIZON_DAYS: int | None = None
DEFAULT_MAX_ACTIVE_PER_GUEST = 1


def duration_text(minutes: int) -> str:
    """A duration as users read it: whole hours as `N hour(s)`, anything else in minutes."""
    if minutes % 60 == 0:
        return f"{minutes // 60} hour(s)"
    return f"{minutes} minute(s)"


def default_cancellation_cutoff_minutes() -> int:
    return settings.CANCELLATION_WINDOW_HOURS * 60


def host_policy_default(*, host_id: UUID) -> HostPolicy:
    """The policy of a host who never set one (not saved; `updated_at` is None)."""
    return HostPolicy(
        host_id=host_id,
        min_notice_minutes=DEFAULT_MIN_NOTICE_MINUTES,
        max_horizon_days=DEFAULT_MAX_HORIZON_DAYS,
        cancellation_cutoff_minutes=default_cancellation_cutoff_minutes(),
        max_active_bookings_per_guest=DEFAULT_MAX_ACTIVE_PER_GUEST,
    )  # created_at and updated_at stay None: never stored


def host_policy_get(*, host_id: UUID) -> HostPolicy:
    """The host's stored policy, or the default one."""
    stored = HostPolicy.objects.filter(host_id=host_id).first()
    return stored if stored is not None else host_policy_default(host_id=host_id)


def _range_errors(
    *,
    min_notice_minutes: int,
    max_horizon_days: int | None,
    cancellation_cutoff_minutes: int,
    max_active_bookings_per_guest: int,
) -> list[dict[str, str]]:
    checks = [
        ("minNoticeMinutes", min_notice_minutes, 0, MIN_NOTICE_MINUTES_MAX),
        ("maxHorizonDays", max_horizon_days, MAX_HORIZON_DAYS_MIN, MAX_HORIZON_DAYS_MAX),
        (
            "cancellationCutoffMinutes",
            cancellation_cutoff_minutes,
            0,
            CANCELLATION_CUTOFF_MINUTES_MAX,
        ),
        (
            "maxActiveBookingsPerGuest",
            max_active_bookings_per_guest,
            MAX_ACTIVE_PER_GUEST_MIN,
            MAX_ACTIVE_PER_GUEST_MAX,
        ),
    ]
    errors = []
    for path, value, low, high in checks:
        if value is None:
            continue
        if value < low:
            errors.append(
                {"path": path, "message": f"Number must be greater than or equal to {low}"}
            )
        elif value > high:
            errors.append({"path": path, "message": f"Number must be less than or equal to {high}"})
    return errors


def host_policy_update(
    *,
    host_id: UUID,
    min_notice_minutes: int = 0,
    max_horizon_days: int | None = None,
    cancellation_cutoff_minutes: int | None = None,
    max_active_bookings_per_guest: int = 1,
) -> HostPolicy:
    """Replace the host's whole policy (PUT /api/users/me/policy and the admin's user page).

    An argument left out takes its default; `cancellation_cutoff_minutes` None is the server's
    CANCELLATION_WINDOW_HOURS. Locks the host's user row, so two updates of one host apply one
    after the other. Raises ValidationFailedError, NotAHostError, UserNotFoundError.
    """
    cutoff = (
        default_cancellation_cutoff_minutes()
        if cancellation_cutoff_minutes is None
        else cancellation_cutoff_minutes
    )
    errors = _range_errors(
        min_notice_minutes=min_notice_minutes,
        max_horizon_days=max_horizon_days,
        cancellation_cutoff_minutes=cutoff,
        max_active_bookings_per_guest=max_active_bookings_per_guest,
    )
    if errors:
        raise ValidationFailedError(details=errors)

    def work() -> HostPolicy:
        host = user_lock(user_id=host_id)
        if not host.is_host:
            raise NotAHostError(NOT_A_HOST_POLICY)
        now = now_ms()
        policy, _ = HostPolicy.objects.update_or_create(
            host=host,
            defaults={
                "min_notice_minutes": min_notice_minutes,
                "max_horizon_days": max_horizon_days,
                "cancellation_cutoff_minutes": cutoff,
                "max_active_bookings_per_guest": max_active_bookings_per_guest,
                "updated_at": now,
            },
            create_defaults={
                "min_notice_minutes": min_notice_minutes,
                "max_horizon_days": max_horizon_days,
                "cancellation_cutoff_minutes": cutoff,
                "max_active_bookings_per_guest": max_active_bookings_per_guest,
                "created_at": now,
                "updated_at": now,
            },
        )
        return policy

    return in_service_transaction(work)
