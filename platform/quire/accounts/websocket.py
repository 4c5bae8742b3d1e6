"""WebSocket authentication: the Django session cookie, or an API token in the Authorization header."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async

from quire.accounts.authentication import token_from_header
from quire.accounts.services import check_token


class TokenOrSessionAuthMiddleware:
    """Sets scope["user"] from an API token when one is sent, else from the session cookie."""

    def __init__(self, inner: Any) -> None:
        self.session_stack = AuthMiddlewareStack(inner)
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization", b"").decode("latin-1")
        key = token_from_header(raw) if raw else None
        if key is None:
            return await self.session_stack(scope, receive, send)
        user = await database_sync_to_async(check_token)(key)
        if user is None:
            from django.contrib.auth.models import AnonymousUser

            user = AnonymousUser()
        return await self.inner({**scope, "user": user, "auth": "token"}, receive, send)
