"""Rate limits as fixed-window counters in Django's cache, which every server process shares (Redis).

A window opens at the first hit of a (limit, caller) pair and lasts the limit's window; the count and the
window's end live under two keys that expire with it. Limits are named in settings.QUIRE_RATE_LIMITS (defined
once in quire.config).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from quire.config import Rate
from quire.lib.errors import QuireError

KEY_PREFIX = "ratelimit"


@dataclass(frozen=True)
class Blocked:
    """Over the limit; the caller may try again in `retry_after` seconds."""

    retry_after: int


class RateLimited(QuireError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after = retry_after


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


def blocked(name: str, ident: str) -> Blocked | None:
    """Whether `ident` has used up limit `name` in its current window; counts nothing."""
    limit = rate(name)
    count_key, ends_key = _keys(name, ident)
    values = cache.get_many([count_key, ends_key])
    if int(values.get(count_key) or 0) < limit.count:
        return None
    return _blocked(values.get(ends_key), limit.window_s)


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


def clear(name: str, ident: str) -> None:
    cache.delete_many(list(_keys(name, ident)))
