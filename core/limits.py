"""Bounds that every interface and service validates against, kept in one place so that the API,
the admin, the commands and the services cannot drift apart."""

from __future__ import annotations

# Places per slot.
CAPACITY_MIN = 1
CAPACITY_MAX = 1000
CAPACITY_DEFAULT = 1

# Length of a slot of a weekly rule (bulk creation), in minutes: 5 minutes to one day.
SLOT_DURATION_MIN_MINUTES = 5
SLOT_DURATION_MAX_MINUTES = 1440
