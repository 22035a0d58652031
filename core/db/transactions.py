"""Transaction plumbing shared by every service: durable transactions, bounded lock waits,
retries of deadlocks, and the mapping of database errors to DomainErrors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction

from core.errors import (
    ConstraintViolationError,
    DatabaseUnavailableError,
    DomainError,
    LockTimeoutError,
    QueryTimeoutError,
)
from core.metrics.registry import LOCK_TIMEOUTS

logger = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
FOREIGN_KEY_VIOLATION = "23503"
RETRIES_AFTER_DEADLOCK = 2


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error that Django wrapped around psycopg's."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None)


def constraint_name(exc: BaseException) -> str | None:
    """The name of the constraint an IntegrityError broke, from psycopg's diagnostics."""
    diag = getattr(exc.__cause__ or exc, "diag", None)
    return getattr(diag, "constraint_name", None)


def require_transaction(what: str) -> None:
    """Lock helpers call this: a row lock outside a transaction is released at once."""
    if not connection.in_atomic_block:
        raise RuntimeError(f"{what} must run inside transaction.atomic()")


def set_lock_timeout(seconds: float | None = None) -> None:
    """Bound every lock wait of the current transaction. Inside atomic()."""
    millis = int((settings.BOOKING_LOCK_TIMEOUT if seconds is None else seconds) * 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = {millis}")


def set_statement_timeout(seconds: float) -> None:
    """Bound every statement of the current transaction. Inside atomic()."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")


def is_connection_error(exc: BaseException) -> bool:
    """True when the database could not be reached or the connection was lost."""
    state = sqlstate(exc)
    return isinstance(exc, OperationalError) and (state is None or state.startswith(("08", "57P")))


def translate_database_error(
    exc: DatabaseError,
    *,
    constraint_errors: Mapping[str, type[DomainError]] | None = None,
    missing_reference_errors: Mapping[str, type[DomainError]] | None = None,
) -> DomainError | None:
    """The DomainError a database error stands for, or None if it is a defect.

    `constraint_errors` maps constraint names to the error of the use case;
    `missing_reference_errors` maps a referenced table to its 404 for foreign-key violations.
    """
    state = sqlstate(exc)
    if state == LOCK_NOT_AVAILABLE or state in (DEADLOCK_DETECTED, SERIALIZATION_FAILURE):
        return LockTimeoutError()
    if state == QUERY_CANCELED:
        return QueryTimeoutError()
    if is_connection_error(exc):
        return DatabaseUnavailableError()
    if isinstance(exc, IntegrityError):
        name = constraint_name(exc) or ""
        if constraint_errors and name in constraint_errors:
            return constraint_errors[name]()
        if state == FOREIGN_KEY_VIOLATION and missing_reference_errors:
            for table, error in missing_reference_errors.items():
                if f"_fk_{table}_" in name:
                    return error()
        # A constraint no Python check anticipated: a missing check somewhere. Still a 409.
        logger.error("unmapped integrity error on constraint %r: %s", name, exc)
        return ConstraintViolationError()
    return None


def in_service_transaction(
    work: Callable[[], T],
    *,
    constraint_errors: Mapping[str, type[DomainError]] | None = None,
    missing_reference_errors: Mapping[str, type[DomainError]] | None = None,
    lock_timeout: float | None = None,
    work_bounds_lock_waits: bool = False,
    single_statement: bool = False,
) -> T:
    """Run `work` in its own durable transaction with a bounded lock wait; return its result.

    "Returned" means "committed". A deadlock or serialization failure (impossible with our lock
    order, but cheap to survive) reruns `work` up to twice, then becomes LOCK_TIMEOUT. Constraint
    violations become the DomainErrors named by the mappings (see translate_database_error).
    `work_bounds_lock_waits`: `work` sets the lock timeout itself before its first lock (in the
    same statement as that lock), so the SET LOCAL round trip is saved.
    `single_statement`: `work` sends exactly one statement that writes, and it runs in
    autocommit, where PostgreSQL makes that statement its own transaction: the BEGIN and COMMIT
    round trips are saved, the guarantees are the same. `work` must set its own lock timeout.
    (Inside a test case's transaction it runs in a savepoint, as a durable atomic() does there.)
    """
    for attempt in range(RETRIES_AFTER_DEADLOCK + 1):
        try:
            if single_statement and not connection.in_atomic_block:
                return work()
            with transaction.atomic(durable=True):
                if not (work_bounds_lock_waits or single_statement):
                    set_lock_timeout(lock_timeout)
                return work()
        except DatabaseError as exc:
            state = sqlstate(exc)
            if state in (DEADLOCK_DETECTED, SERIALIZATION_FAILURE):
                logger.warning("transaction retried after %s (attempt %d)", state, attempt + 1)
                if attempt < RETRIES_AFTER_DEADLOCK:
                    continue
            error = translate_database_error(
                exc,
                constraint_errors=constraint_errors,
                missing_reference_errors=missing_reference_errors,
            )
            if error is None:
                raise
            if isinstance(error, LockTimeoutError):
                LOCK_TIMEOUTS.inc()
            raise error from exc
    raise AssertionError("unreachable")  # pragma: no cover
