"""Idempotency keys: claim, replay, and the record a use case completes.

A request with an `Idempotency-Key` claims the pair (user, key) in its own short committed
transaction before anything runs. The service of the use case then locks the record first inside
its own transaction (lock order: idempotency record → user → slot → booking) and stores the
success there, so no booking, cancellation or slot exists without its record. A business 4xx
rolls back the use case and is recorded afterwards in a new transaction that re-locks the record
and re-checks its `attempt`. Everything else (5xx, validation, auth) releases the claim.

Interfaces use `idempotent_response()`; services take `idempotency: IdempotencyClaim | None` and
call `idempotency_lock()` first and `idempotency_complete()` last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, QueryDict
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request

from core.api.renderers import JsonRenderer
from core.db.instants import now_ms
from core.db.transactions import (
    in_service_transaction,
    require_transaction,
    translate_database_error,
)
from core.errors import (
    DomainError,
    IdempotencyKeyInProgressError,
    IdempotencyKeyReusedError,
    InvalidIdempotencyKeyError,
)
from core.idempotency.models import IdempotencyRecord, IdempotencyState

logger = logging.getLogger(__name__)
T = TypeVar("T")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
CONTENT_TYPE = "application/json; charset=utf-8"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no space
CLAIM_ROUNDS = 3
# What a record may not hold: not executed (validation, auth), or the idempotency answers.
NOT_STORED_STATUSES = {401, 429}
NOT_STORED_CODES = {"VALIDATION_ERROR"}
NOT_STORED_ERRORS = (IdempotencyKeyInProgressError, IdempotencyKeyReusedError)

# For @extend_schema of the idempotent endpoints.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "1 to 255 printable ASCII characters, scoped to the caller. A repeat with the same key "
        "and request replays the first answer (Idempotent-Replayed: true) for 24 h."
    ),
)
IDEMPOTENCY_ERRORS = (
    InvalidIdempotencyKeyError,
    IdempotencyKeyReusedError,
    IdempotencyKeyInProgressError,
)


@dataclass(frozen=True)
class Outcome:
    """One answer as sent: the status and the exact body text (replays are byte for byte)."""

    status: int
    body: str


@dataclass
class IdempotencyClaim:
    """The right to run one request for (user, key): only `attempt` may write its record.

    `render` turns the use case's result into the success Outcome inside its transaction;
    `stored` is what was written, for the interface to send.
    """

    record_id: UUID
    attempt: UUID
    key: str
    render: Callable[[Any], Outcome] | None = None
    stored: Outcome | None = None


class ClaimLostError(Exception):
    """The record is no longer IN_PROGRESS with this attempt: someone else owns the outcome.

    `outcome` is the stored one when the record is completed, else None. Nothing was written.
    """

    def __init__(self, outcome: Outcome | None) -> None:
        super().__init__("idempotency claim lost")
        self.outcome = outcome


# Wire helpers -------------------------------------------------------------------------------------
def render_json(data: Any) -> str:
    """The exact text the API's JSON renderer sends for `data`."""
    return JsonRenderer().render(data).decode("utf-8")


def success_outcome(data: Any, *, status: int) -> Outcome:
    return Outcome(status, render_json({"success": True, "data": data}))


@dataclass(frozen=True)
class SuccessRenderer:
    """A named renderer: the success envelope of `serializer` over the use case's result, with
    `status`. The service calls it inside its transaction to store the answer with the change."""

    serializer: type[serializers.BaseSerializer[Any]]
    status: int

    def __call__(self, result: Any) -> Outcome:
        return success_outcome(self.serializer(result).data, status=self.status)


def error_outcome(error: DomainError) -> Outcome:
    return Outcome(error.http_status, render_json({"success": False, "error": error.as_payload()}))


def outcome_response(outcome: Outcome, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(
        outcome.body.encode("utf-8"), status=outcome.status, content_type=CONTENT_TYPE
    )
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _stored(record: IdempotencyRecord | None) -> Outcome | None:
    if record is None or record.state != IdempotencyState.COMPLETED:
        return None
    assert record.response_status is not None  # noqa: S101  # the CHECK constraint says so
    assert record.response_body is not None  # noqa: S101
    return Outcome(record.response_status, record.response_body)


# Keys and fingerprints ----------------------------------------------------------------------------
def idempotency_key_parse(raw: str | None) -> str | None:
    """The key of the header, None when absent. Raises InvalidIdempotencyKeyError."""
    if raw is None:
        return None
    if not KEY_PATTERN.fullmatch(raw):
        raise InvalidIdempotencyKeyError()
    return raw


def request_fingerprint(*, method: str, route: str, body: Any) -> str:
    """SHA-256 over method, route with path ids, and the body as canonical JSON."""
    if isinstance(body, QueryDict):  # DRF's stand-in for an empty body
        body = {}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method.upper()} {route}\n{canonical}".encode()).hexdigest()


# Claims -------------------------------------------------------------------------------------------
def _expiry_threshold(now: datetime) -> datetime:
    return now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _insert_claim(*, user_id: UUID, key: str, fingerprint: str, attempt: UUID) -> UUID | None:
    def work() -> UUID | None:
        now = now_ms()
        with connection.cursor() as cursor:
            # ON CONFLICT DO NOTHING: of two identical requests exactly one inserts; the other
            # sees the row and gets 409 or the replay, never a unique-violation error.
            cursor.execute(
                "INSERT INTO idempotency_records"
                " (id, user_id, key, fingerprint, state, attempt, claimed_at, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
                [
                    uuid.uuid4(),
                    user_id,
                    key,
                    fingerprint,
                    IdempotencyState.IN_PROGRESS,
                    attempt,
                    now,
                    now,
                ],
            )
            row = cursor.fetchone()
        return row[0] if row else None

    if connection.in_atomic_block:
        # Durable: raises inside someone else's transaction, with which the claim would commit.
        return in_service_transaction(work)
    # Outside any transaction the statement is its own transaction, committed when it returns:
    # one round trip instead of BEGIN, SET LOCAL lock_timeout, INSERT, COMMIT. No lock wait to
    # bound: ON CONFLICT waits only for another uncommitted insert of the same (user, key), and
    # every insert of a record is such a single statement; a committed row is seen at once, row
    # locks on it or not.
    try:
        return work()
    except DatabaseError as exc:
        error = translate_database_error(exc)
        if error is None:
            raise
        raise error from exc


def idempotency_claim(*, user_id: UUID, key: str, fingerprint: str) -> IdempotencyClaim | Outcome:
    """Claim (user, key) in its own committed transaction, or return the stored Outcome.

    An expired record (older than IDEMPOTENCY_KEY_TTL_HOURS) counts as absent. An IN_PROGRESS
    record older than IDEMPOTENCY_CLAIM_TTL was abandoned and is taken over with a new attempt;
    the old attempt can then write nothing. Raises IdempotencyKeyReusedError (other fingerprint),
    IdempotencyKeyInProgressError (a live claim), LockTimeoutError.
    """
    for _ in range(CLAIM_ROUNDS):
        attempt = uuid.uuid4()
        record_id = _insert_claim(
            user_id=user_id, key=key, fingerprint=fingerprint, attempt=attempt
        )
        if record_id is not None:
            return IdempotencyClaim(record_id=record_id, attempt=attempt, key=key)
        record = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
        if record is None:
            continue  # released or pruned since the insert: claim again
        now = now_ms()
        if record.created_at <= _expiry_threshold(now):
            # The key counts as new; the conditional delete loses nothing if someone renewed it.
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError()
        stored = _stored(record)
        if stored is not None:
            return stored
        if record.claimed_at > now - timedelta(seconds=settings.IDEMPOTENCY_CLAIM_TTL):
            raise IdempotencyKeyInProgressError()
        taken_over = _take_over(record=record)
        if taken_over is not None:
            return IdempotencyClaim(record_id=record.pk, attempt=taken_over, key=key)
        # Completed or taken over by someone else meanwhile: decide again on the new state.
    raise IdempotencyKeyInProgressError()


def _take_over(*, record: IdempotencyRecord) -> UUID | None:
    """Give an abandoned claim a new attempt, if it is still the abandoned one."""
    attempt = uuid.uuid4()

    def work() -> int:
        # The UPDATE waits (bounded) for a transaction that still holds the record; if that one
        # completed it, the re-evaluated WHERE no longer matches and the caller gets the replay.
        return IdempotencyRecord.objects.filter(
            pk=record.pk, state=IdempotencyState.IN_PROGRESS, attempt=record.attempt
        ).update(attempt=attempt, claimed_at=now_ms())

    return attempt if in_service_transaction(work) else None


# Inside the use case's transaction ----------------------------------------------------------------
def idempotency_lock(*, claim: IdempotencyClaim) -> IdempotencyRecord:
    """Lock the claimed record; first lock of the use case's transaction. Inside atomic().

    Raises ClaimLostError when the record is gone, completed, or claimed by another attempt.
    """
    require_transaction("idempotency_lock()")
    record = (
        IdempotencyRecord.objects.select_for_update(no_key=True).filter(pk=claim.record_id).first()
    )
    if (
        record is None
        or record.state != IdempotencyState.IN_PROGRESS
        or record.attempt != claim.attempt
    ):
        raise ClaimLostError(_stored(record))
    return record


def _complete(*, claim: IdempotencyClaim, outcome: Outcome) -> None:
    IdempotencyRecord.objects.filter(
        pk=claim.record_id, state=IdempotencyState.IN_PROGRESS, attempt=claim.attempt
    ).update(
        state=IdempotencyState.COMPLETED,
        response_status=outcome.status,
        response_body=outcome.body,
        completed_at=now_ms(),
    )
    claim.stored = outcome


def idempotency_complete(*, claim: IdempotencyClaim, result: Any) -> Outcome:
    """Store the success of `result` in the record. Inside atomic(), after idempotency_lock()."""
    require_transaction("idempotency_complete()")
    assert claim.render is not None, "the interface sets claim.render"  # noqa: S101
    outcome = claim.render(result)
    _complete(claim=claim, outcome=outcome)
    return outcome


# After the use case -------------------------------------------------------------------------------
def is_stored_error(error: BaseException) -> bool:
    """A business answer the endpoint itself produced."""
    return (
        isinstance(error, DomainError)
        and error.http_status < 500
        and error.http_status not in NOT_STORED_STATUSES
        and error.code not in NOT_STORED_CODES
        and not isinstance(error, NOT_STORED_ERRORS)
    )


def idempotency_record_error(*, claim: IdempotencyClaim, error: DomainError) -> Outcome | None:
    """Record a business 4xx after its transaction rolled back: a new transaction re-locks the
    record and writes only if this attempt still owns it. Returns the record's outcome."""
    outcome = error_outcome(error)

    def work() -> Outcome | None:
        try:
            idempotency_lock(claim=claim)
        except ClaimLostError as lost:
            return lost.outcome
        _complete(claim=claim, outcome=outcome)
        return outcome

    return in_service_transaction(work)


def idempotency_release(*, claim: IdempotencyClaim) -> Outcome | None:
    """Withdraw the claim with a conditional delete (state IN_PROGRESS and this attempt), so a
    retry runs again. If the record was completed meanwhile, return that outcome instead."""

    def work() -> Outcome | None:
        deleted, _ = IdempotencyRecord.objects.filter(
            pk=claim.record_id, state=IdempotencyState.IN_PROGRESS, attempt=claim.attempt
        ).delete()
        if deleted:
            return None
        return _stored(IdempotencyRecord.objects.filter(pk=claim.record_id).first())

    return in_service_transaction(work)


def idempotency_stored(*, claim: IdempotencyClaim) -> Outcome | None:
    """The outcome this attempt stored, if it has completed; None while it is open, or when the
    record was released or taken over by another attempt. One unlocked read, no writes."""
    record = (
        IdempotencyRecord.objects.filter(pk=claim.record_id, attempt=claim.attempt)
        .only("state", "response_status", "response_body")
        .first()
    )
    return _stored(record)


def idempotency_settle(*, claim: IdempotencyClaim, error: BaseException) -> Outcome | None:
    """After a failed use case: record a business 4xx, keep the claim of an error whose outcome is
    still open (a queue timeout), release it for anything else. Returns the record's outcome."""
    if isinstance(error, DomainError) and error.keeps_idempotency_claim:
        return None
    try:
        if is_stored_error(error):
            assert isinstance(error, DomainError)  # noqa: S101
            return idempotency_record_error(claim=claim, error=error)
        return idempotency_release(claim=claim)
    except (DatabaseError, DomainError):
        # The database failed too; the claim expires after IDEMPOTENCY_CLAIM_TTL on its own.
        logger.warning("could not settle idempotency record %s", claim.record_id, exc_info=True)
        return None


def idempotency_prune() -> int:
    """Delete the records older than IDEMPOTENCY_KEY_TTL_HOURS; return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=_expiry_threshold(now_ms())
    ).delete()
    return deleted


# The interface side -------------------------------------------------------------------------------
@dataclass
class IdempotencyScope:
    """One request's idempotency state: its fingerprint, and the claim once there is one."""

    user_id: UUID
    fingerprint: str
    key: str | None = None
    claim: IdempotencyClaim | None = None

    def claim_server_key(self) -> IdempotencyClaim:
        """Queued mode without a client key: a server key (a uuid), claimed like a client's."""
        key = str(uuid.uuid4())
        found = idempotency_claim(user_id=self.user_id, key=key, fingerprint=self.fingerprint)
        assert isinstance(found, IdempotencyClaim)  # noqa: S101  # a fresh uuid is never taken
        self.key, self.claim = key, found
        return found


def recorded(
    scope: IdempotencyScope,
    *,
    render: Callable[[T], Outcome],
    call: Callable[[IdempotencyClaim | None], T],
) -> Outcome:
    """Run a use case with the scope's claim; return the Outcome to send.

    With a claim, the service stores `render(result)` in its own transaction and that stored
    text is sent; without one, the result is rendered here. Either way the bytes are the same.
    """
    claim = scope.claim
    if claim is None:
        return render(call(None))
    claim.render = render
    call(claim)
    assert claim.stored is not None, "the service did not complete its claim"  # noqa: S101
    return claim.stored


def idempotent_response(
    request: Request,
    *,
    user_id: UUID,
    route: str,
    run: Callable[[IdempotencyScope], Outcome],
) -> HttpResponse:
    """An idempotent endpoint after authentication: body parsing → key format →
    record lookup/claim → `run` (validation, then the use case) → settle the record."""
    body = request.data  # parsing errors (400/413/415) come before the key is looked at
    key = idempotency_key_parse(request.headers.get(HEADER))
    scope = IdempotencyScope(
        user_id=user_id,
        key=key,
        fingerprint=request_fingerprint(method=request.method or "", route=route, body=body),
    )
    if key is not None:
        found = idempotency_claim(user_id=user_id, key=key, fingerprint=scope.fingerprint)
        if isinstance(found, Outcome):
            return _respond(request, found, replayed=True)
        scope.claim = found
    try:
        outcome = run(scope)
    except ClaimLostError as lost:
        # Someone else completed or took over this key while we ran; we wrote nothing.
        if lost.outcome is not None:
            return _respond(request, lost.outcome, replayed=True)
        raise IdempotencyKeyInProgressError() from None
    except Exception as exc:
        if scope.claim is not None:
            idempotency_settle(claim=scope.claim, error=exc)
        raise
    return _respond(request, outcome)


def _respond(request: Request, outcome: Outcome, *, replayed: bool = False) -> HttpResponse:
    if outcome.status >= 400:
        # The request log names the reason of every error, stored ones included.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            reason = json.loads(outcome.body)["error"]["reason"]
            request._request.error_reason = reason  # type: ignore[attr-defined]
    return outcome_response(outcome, replayed=replayed)
