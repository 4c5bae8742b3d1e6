"""DRF throttling: every REST request counts against its caller's rate (quire.lib.ratelimit)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from quire.lib import ratelimit


def client_address(meta: dict[str, Any]) -> str:
    """The caller's address. Daphne puts the proxy's X-Forwarded-For there when run with --proxy-headers;
    reading the header here instead would let a caller who reaches Daphne directly choose its own address."""
    return str(meta.get("REMOTE_ADDR") or "unknown")


class CallerRateThrottle(BaseThrottle):
    """Signed-in callers are counted by account ("api_user"), the rest by address ("api_anonymous")."""

    def __init__(self) -> None:
        self.blocked: ratelimit.Blocked | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            self.blocked = ratelimit.hit("api_user", f"user:{user.pk}")
        else:
            self.blocked = ratelimit.hit("api_anonymous", client_address(request.META))
        return self.blocked is None

    def wait(self) -> float | None:
        return float(self.blocked.retry_after) if self.blocked is not None else None
