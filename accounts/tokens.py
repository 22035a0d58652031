"""API tokens: `sb_` + 43 URL-safe characters, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "sb_"  # noqa: S105  # the public prefix of every token, not a secret


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
