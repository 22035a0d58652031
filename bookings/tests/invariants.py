"""The data invariants (bookings/invariants.py, the queries of check_integrity) checked after
every concurrency scenario; in tests the per-user limits count as breaches too."""

from __future__ import annotations

from bookings.invariants import CHECKS, WARNINGS, invariant_offenders


def assert_booking_invariants() -> None:
    """No slot over capacity, counts and statuses match bookings, no user over the limits."""
    broken = {
        f"{check.code} {check.title}": offenders
        for check in (*CHECKS, *WARNINGS)
        if (offenders := invariant_offenders(check))
    }
    assert broken == {}, f"invariants broken: {broken}"
