"""Account actions: signing in (throttled), issuing, checking and revoking API tokens, creating the first admin."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from quire.accounts.models import ApiToken
from quire.lib import ratelimit
from quire.lib.errors import InvalidInput, NotFound
from quire.lib.ratelimit import RateLimited
from quire.lib.users import Account

TOKEN_PREFIX = "qt_"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough to audit.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str


def do_issue_token(user: Account, *, name: str) -> IssuedToken:
    """Create a token for `user`; the plain key is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters", field="name")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=_hash(key))
    return IssuedToken(token=token, key=key)


def check_token(key: str) -> Account | None:
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


def authenticate_token(key: str, *, address: str) -> Account | None:
    """check_token, throttled per client address: RateLimited once too many bad tokens came from there."""
    blocked = ratelimit.blocked("bad_token_address", address)
    if blocked is not None:
        raise RateLimited(
            f"too many unknown API tokens from your address; try again in {blocked.retry_after} s",
            retry_after=blocked.retry_after,
        )
    user = check_token(key)
    if user is None:
        ratelimit.hit("bad_token_address", address)
    return user


def _account(username: str) -> str:
    # Case-folded so that "Alice" and "alice" share one budget whatever the user model's lookup does.
    return username.strip().casefold()


def check_sign_in_allowed(*, username: str, address: str) -> None:
    """Raise RateLimited when the account or the address has failed to sign in too often in this window."""
    blocked = ratelimit.blocked("sign_in_account", _account(username)) or ratelimit.blocked(
        "sign_in_address", address
    )
    if blocked is not None:
        minutes = math.ceil(blocked.retry_after / 60)
        raise RateLimited(
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=blocked.retry_after,
        )


def do_record_sign_in(*, username: str, address: str, succeeded: bool) -> None:
    """Count a failed sign-in against the account and the address; a success clears the account's count."""
    if succeeded:
        ratelimit.clear("sign_in_account", _account(username))
        return
    ratelimit.hit("sign_in_account", _account(username))
    ratelimit.hit("sign_in_address", address)


def do_revoke_token(user: Account, *, token_id: int) -> None:
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
