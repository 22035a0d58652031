"""One signed POST to a receiver, made with httpx; no retries or scheduling here.

The request goes to the address `resolve_target` checked, while Host and TLS SNI (and so the
certificate check) name the URL's own host. Redirects are never followed, proxies from the
environment are ignored, and the whole attempt is bounded by WEBHOOK_TIMEOUT.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from django.conf import settings

from webhooks.addresses import AddressRefused, IpAddress, Target, resolve_target

USER_AGENT = "SlotBooking-Webhooks/1"
RESPONSE_KEPT_BYTES = 1024


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str
    duration_ms: int
    response_body: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the secret>`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _address_url(target: Target, address: IpAddress) -> str:
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    path = target.url.path or "/"
    query = f"?{target.url.query}" if target.url.query else ""
    return f"{target.url.scheme}://{literal}:{target.port}{path}{query}"


def _host_header(target: Target) -> str:
    default = 443 if target.url.scheme == "https" else 80
    return target.host if target.port == default else f"{target.host}:{target.port}"


def send(*, url: str, secret: str, event_id: str, event_type: str, body: bytes) -> AttemptResult:
    """POST `body` to `url`, signed; the receiver's answer or the reason there was none."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve_target(url)
    except AddressRefused as exc:
        return AttemptResult(None, str(exc), took(), "")
    headers = {
        "Host": _host_header(target),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-SlotBooking-Event": event_type,
        "X-SlotBooking-Event-Id": event_id,
        "X-SlotBooking-Signature": signature(secret=secret, timestamp=int(time.time()), body=body),
    }
    timeout = float(settings.WEBHOOK_TIMEOUT)
    deadline = started + timeout
    try:
        with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as client:
            for index, address in enumerate(target.addresses):
                try:
                    return _post(client, target, address, body, headers, deadline, took)
                except httpx.ConnectError:
                    # Only the checked addresses, in the resolver's order (IPv6 and IPv4 of
                    # one name): a refused connection moves on to the next one.
                    if index == len(target.addresses) - 1:
                        raise
    except httpx.TimeoutException:
        return AttemptResult(None, f"Timed out after {timeout:g} s", took(), "")
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        return AttemptResult(None, f"{type(exc).__name__}: {detail}"[:500], took(), "")
    raise AssertionError("unreachable")  # pragma: no cover


def _post(
    client: httpx.Client,
    target: Target,
    address: IpAddress,
    body: bytes,
    headers: dict[str, str],
    deadline: float,
    took: Callable[[], int],
) -> AttemptResult:
    with client.stream(
        "POST",
        _address_url(target, address),
        content=body,
        headers=headers,
        extensions={"sni_hostname": target.host},
    ) as response:
        kept = b""
        for chunk in response.iter_raw():
            kept += chunk
            # Only the head of the answer is logged; a receiver that keeps talking is cut off,
            # and one that drips its answer out is held to the same deadline.
            if len(kept) >= RESPONSE_KEPT_BYTES or time.monotonic() > deadline:
                break
        text = kept[:RESPONSE_KEPT_BYTES].decode("utf-8", errors="replace")
        return AttemptResult(response.status_code, "", took(), text)
