"""Whether a WebSocket handshake's Origin is this site's own: scheme, host and port all compared."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_tuple(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, default port filled in; None for anything else ("null")."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _is_secure(scope: dict[str, Any]) -> bool:
    # Daphne leaves "scheme" out of WebSocket scopes; behind the TLS proxy (deploy/nginx.conf) the scheme comes
    # in X-Forwarded-Proto, which a page cannot add to a browser's handshake. With secure cookies, browsers
    # send the session cookie only over TLS, so a cookie caller always came over wss.
    if scope.get("scheme") in ("wss", "https"):
        return True
    forwarded = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
    return forwarded in ("https", "wss") or bool(settings.SESSION_COOKIE_SECURE)


def own_origin(*, host: str, secure: bool) -> tuple[str, str, int] | None:
    """The origin a page served by this site under `host` (the Host header) has; None for a host not allowed."""
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return _origin_tuple(f"{'https' if secure else 'http'}://{host}")


def origin_allowed(origin: str | None, *, host: str | None, secure: bool, trusted: Iterable[str]) -> bool:
    """True when `origin` is this site's own (per the Host header) or one of the trusted origins."""
    if not origin:
        return False
    seen = _origin_tuple(origin)
    if seen is None:
        return False
    if host and seen == own_origin(host=host, secure=secure):
        return True
    return any(seen == _origin_tuple(other) for other in trusted)


def websocket_origin_allowed(scope: dict[str, Any]) -> bool:
    """The check for a cookie-authenticated handshake; extra origins are Django's CSRF_TRUSTED_ORIGINS."""
    return origin_allowed(
        _header(scope, b"origin"), host=_header(scope, b"host"), secure=_is_secure(scope),
        trusted=settings.CSRF_TRUSTED_ORIGINS,
    )
