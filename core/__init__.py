"""Code every app builds on: the API's wire conventions, database helpers, the admin and command
line kits, logging, audit sources and idempotency. It imports none of the apps: the apps import it
(analytics -> bookings -> slots -> accounts -> core, checked by `lint-imports`)."""
