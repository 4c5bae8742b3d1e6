"""Rate limits as fixed-window counters in Django's cache, which every server process shares (Redis).

A window opens at the first hit of a (limit, caller) pair and lasts the limit's window; the count and the
window's end live under two keys that expire with it. Limits are named in settings.QUIRE_RATE_LIMITS (defined
once in quire.config).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from quire.config import Rate
from quire.lib.errors import QuireError

KEY_PREFIX = "ratelimit"

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Blocked:
    """Over the limit; the caller may try again in `retry_after` seconds."""

    retry_after: int


class RateLimited(QuireError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def _open_when_uncounted(func: Callable[..., T | None]) -> Callable[..., T | None]:
    """A limit whose counters cannot be reached (Redis restarting) lets the request through, logged: an outage of
    the counters must not turn every sign-in and API call into a server error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            return func(*args, **kwargs)
        except (RedisError, OSError) as exc:
            log.warning("rate limit %s not counted: %s", args[0] if args else "?", exc)
            return None

    return wrapper


def rate(name: str) -> Rate:
    rates: dict[str, Rate] = settings.QUIRE_RATE_LIMITS
    return rates[name]


def _keys(name: str, ident: str) -> tuple[str, str]:
    # Hashed: idents are usernames and addresses as typed, of any length and alphabet.
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    base = f"{KEY_PREFIX}:{name}:{digest}"
    return base, f"{base}:ends"


def _blocked(ends: Any, window_s: int) -> Blocked:
    remaining = float(ends) - time.time() if isinstance(ends, (int, float)) else window_s
    return Blocked(retry_after=max(1, math.ceil(remaining)))


@_open_when_uncounted
def blocked(name: str, ident: str) -> Blocked | None:
    """Whether `ident` has used up limit `name` in its current window; counts nothing."""
    limit = rate(name)
    count_key, ends_key = _keys(name, ident)
    values = cache.get_many([count_key, ends_key])
    if int(values.get(count_key) or 0) < limit.count:
        return None
    return _blocked(values.get(ends_key), limit.window_s)


@_open_when_uncounted
def hit(name: str, ident: str) -> Blocked | None:
    """Count one against limit `name` for `ident`; Blocked when this one is over the limit."""
    limit = rate(name)
    count_key, ends_key = _keys(name, ident)
    ends = time.time() + limit.window_s
    if cache.add(count_key, 1, timeout=limit.window_s):
        cache.set(ends_key, ends, timeout=limit.window_s)
        return None
    try:
        count = cache.incr(count_key)
    except ValueError:  # the window ended between add and incr: this hit opens the next one
        cache.set(count_key, 1, timeout=limit.window_s)
        cache.set(ends_key, ends, timeout=limit.window_s)
        return None
    if count <= limit.count:
        return None
    return _blocked(cache.get(ends_key), limit.window_s)


@_open_when_uncounted
def clear(name: str, ident: str) -> None:
    cache.delete_many(list(_keys(name, ident)))
