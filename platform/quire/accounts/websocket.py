"""WebSocket authentication: an API token in the Authorization header, else the Django session cookie.

A cookie rides along with any page's handshake, so a cookie caller's Origin must be this site's own (scheme,
host and port); a token is sent only by a program that holds it, so a token caller needs no Origin at all.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier

from quire.accounts.authentication import token_from_header
from quire.accounts.origins import websocket_origin_allowed
from quire.accounts.services import authenticate_token
from quire.lib.ratelimit import RateLimited


class TokenOrSessionAuthMiddleware:
    """Sets scope["user"] from an API token when one is sent, else from the session cookie of an own-origin page."""

    def __init__(self, inner: Any) -> None:
        self.session_stack = AuthMiddlewareStack(inner)
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization", b"").decode("latin-1")
        key = token_from_header(raw) if raw else None
        if key is None:
            if not websocket_origin_allowed(scope):
                # Refused before any consumer runs: the handshake gets HTTP 403.
                return await WebsocketDenier()(scope, receive, send)
            return await self.session_stack(scope, receive, send)
        client = scope.get("client") or ["unknown"]
        try:
            user = await database_sync_to_async(authenticate_token)(key, address=str(client[0]))
        except RateLimited:
            # Too many bad tokens from this address: refused at the handshake (HTTP 403), like a bad Origin.
            return await WebsocketDenier()(scope, receive, send)
        if user is None:
            from django.contrib.auth.models import AnonymousUser

            user = AnonymousUser()
        return await self.inner({**scope, "user": user, "auth": "token"}, receive, send)
