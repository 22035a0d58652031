"""Shared fixtures: API clients signed in as a guest or a host, against real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from django_stubs_ext import StrOrPromise
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import HostFactory, UserFactory, token_for


class Api(APIClient):
    """An APIClient that sends JSON and, once `as_user()` is called, the caller's credentials."""

    def as_user(self, user: User | None, *, token: bool = False) -> Api:
        self.credentials()
        if user is not None:
            if token:
                self.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
            else:
                self.credentials(HTTP_X_USER_ID=str(user.pk))
        return self

    def generic(
        self,
        method: str,
        path: StrOrPromise,
        data: Any = "",
        content_type: str | None = "application/json",
        secure: bool = False,
        *,
        headers: Mapping[str, Any] | None = None,
        query_params: Mapping[Any, Any] | None = None,
        **extra: Any,
    ) -> Any:
        # The signature of Django's RequestFactory.generic (a superset of DRF's), so the override
        # is compatible with both. DRF's stub types content_type as str, but its generic() accepts
        # None (it then sets no CONTENT_TYPE), and returns the response, not a Request.
        return super().generic(
            method,
            path,
            data,
            content_type,  # type: ignore[arg-type]
            secure,
            headers=headers,
            query_params=query_params,
            **extra,
        )

    def post_json(self, path: str, body: Any, **extra: Any):
        import json

        return self.generic("POST", path, json.dumps(body), "application/json", **extra)


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
def guest(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def host(db: None) -> User:
    return HostFactory.create()


@pytest.fixture
def api_as(api: Api) -> Callable[..., Api]:
    """api_as(user, token=False): a client that authenticates as `user`."""
    return api.as_user
