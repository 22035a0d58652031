"""Typed factories; call XFactory.create() so mypy knows the model it returns."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import ApiToken, Role, User
from accounts.tokens import token_generate, token_hash
from core.db.instants import now_ms


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n:04d}")
    roles = factory.LazyFunction(lambda: [Role.GUEST])
    timezone = "UTC"
    password = factory.django.Password(None)


class HostFactory(UserFactory):
    roles = factory.LazyFunction(lambda: [Role.HOST, Role.GUEST])


def token_for(user: User) -> str:
    """Give `user` a fresh API token and return it in clear (tests only)."""
    token = token_generate()
    ApiToken.objects.update_or_create(
        user=user,
        defaults={"token_hash": token_hash(token), "prefix": token[:8], "created_at": now_ms()},
    )
    return token
