"""Account actions: issuing, checking and revoking API tokens, and creating the first admin."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from quire.accounts.models import ApiToken
from quire.lib.errors import InvalidInput, NotFound

TOKEN_PREFIX = "qt_"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough to audit.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str


def do_issue_token(user: AbstractBaseUser, *, name: str) -> IssuedToken:
    """Create a token for `user`; the plain key is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters", field="name")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=_hash(key))
    return IssuedToken(token=token, key=key)


def check_token(key: str) -> AbstractBaseUser | None:
    """The active user a token key belongs to, or None."""
    if not key.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def do_revoke_token(user: AbstractBaseUser, *, token_id: int) -> None:
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if not deleted:
        raise NotFound("no such token")


@dataclass(frozen=True)
class DemoAdmin:
    username: str
    password: str


def ensure_demo_admin() -> DemoAdmin | None:
    """Create a superuser `admin` with a random password if there is no user at all; None otherwise."""
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.exists():
            return None
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username="admin", email="admin@localhost", password=password)
    return DemoAdmin(username="admin", password=password)
