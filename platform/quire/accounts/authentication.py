"""DRF authentication by API token: `Authorization: Bearer qt_...`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from quire.accounts.services import authenticate_token
from quire.accounts.throttling import client_address
from quire.lib.ratelimit import RateLimited


def token_from_header(value: str) -> str | None:
    scheme, _, key = value.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not key.strip():
        return None
    return key.strip()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        key = token_from_header(header)
        if key is None:
            return None
        try:
            user = authenticate_token(key, address=client_address(request.META))
        except RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=exc.message) from exc
        if user is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API token")
        return (user, None)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the API schema describes ApiTokenAuthentication (drf-spectacular finds it by subclassing)."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token (qt_...) from /api/tokens/."}
