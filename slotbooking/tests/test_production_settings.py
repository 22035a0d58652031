"""Production settings: the secret key is required outside development, `check --deploy` is clean
with the DJANGO_SECURE_* switches on, and the cache is one Redis shared by every process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

ROOT = Path(__file__).resolve().parents[2]
SECURE = {
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    for name in ("DJANGO_SECRET_KEY", *SECURE):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DJANGO_ENV="production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_check_deploy_is_clean_with_the_secure_switches():
    key = "k" * 20 + uuid.uuid4().hex + uuid.uuid4().hex
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=key,
        **SECURE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_them():
    key = "k" * 20 + uuid.uuid4().hex + uuid.uuid4().hex
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=key,
    )
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout + result.stderr


def test_the_cache_is_redis_and_shared_across_processes():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    key = f"test-shared-counter-{uuid.uuid4()}"
    cache.set(key, 1, timeout=60)
    code = f"from django.core.cache import cache; print(cache.incr({key!r}))"
    result = manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2"
    assert cache.incr(key) == 3
    cache.delete(key)


@pytest.mark.parametrize("name", sorted(SECURE))
def test_every_secure_switch_is_documented(name):
    assert f"`{name}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert name in (ROOT / ".env.example").read_text(encoding="utf-8")
