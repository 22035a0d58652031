"""Idempotency keys, a mechanism of its own used by every write: claim a key, run the use case,
store the answer in the same transaction, replay it byte for byte. Django app label
`idempotency`; the interface and service helpers are in `core.idempotency.records`."""
